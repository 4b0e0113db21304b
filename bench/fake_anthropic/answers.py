"""What the fake answers: the plan of a message (its blocks, stop reason and usage) made from the
request and its directives, the whole Message object, and the SSE event encoding."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from bench.fake_anthropic.rules import UTF8_WORDS, block_text, new_id, sign, split_cache
from bench.fake_anthropic.turns import blocks_of

Scope = dict[str, Any]
Receive = Any
Send = Any


class Block:
    """One content block: what content_block_start carries, its deltas, and the finished block."""

    def __init__(self, start: dict[str, Any], deltas: list[dict[str, Any]], final: dict[str, Any]) -> None:
        self.start = start
        self.deltas = deltas
        self.final = final


def wants_tools(body: dict[str, Any], d: dict[str, str]) -> bool:
    turns = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") != "system"]
    last = turns[-1] if turns else {}
    if last.get("role") == "user" and blocks_of(last, "tool_result") and not block_text(last.get("content")).strip():
        return False
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "none":
        return False
    if choice.get("type") in ("any", "tool"):
        return True
    return "tools" in d or bool(body.get("tools"))


def tool_calls(body: dict[str, Any], d: dict[str, str], fragments: int) -> list[Block]:
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and "input_schema" in t]
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        tools = [t for t in tools if t.get("name") == choice.get("name")]
    if "tool" in d:  # the tool a test wants called, among the many a client like Claude Code offers
        tools = [t for t in tools if t.get("name") == d["tool"]]
    tools = tools or [
        {"name": "lookup", "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}
    ]
    count = 1 if choice.get("disable_parallel_tool_use") else int(d.get("calls", "1"))
    per_call = max(2, fragments // count)
    blocks = []
    for index in range(count):
        tool = tools[index % len(tools)]
        properties = (tool.get("input_schema") or {}).get("properties") or {"value": {"type": "string"}}
        names = list(properties)
        rest = ""
        for name in names[1:]:
            rest += f", {json.dumps(name)}: " + json.dumps(sample_value(properties[name], name, index))
        if "input" in d:  # the first property's value, given (`+` for a space), and no other: a command to run
            whole = f"{{{json.dumps(names[0])}: {json.dumps(d['input'].replace('+', ' '))}}}"
            cut = max(1, len(whole) // per_call)
            pieces = ["", *(whole[i : i + cut] for i in range(0, len(whole), cut))]
        else:
            tokens = [f"tok{i}" for i in range(per_call)]
            pieces = ["", f'{{"{names[0]}": "' + tokens[0], *(" " + t for t in tokens[1:]), f'"{rest}}}']
        tool_id = new_id("toolu")
        arguments = json.loads("".join(pieces))
        start = {
            "type": "tool_use",
            "id": tool_id,
            "name": str(tool.get("name")),
            "input": {},
            "caller": {"type": "direct"},
        }
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        blocks.append(Block(start, deltas, {**start, "input": arguments}))
    return blocks


def sample_value(schema: Any, name: str, index: int) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(schema, dict) and schema.get("enum"):
        return schema["enum"][0]
    return {"integer": index, "number": 0.5, "boolean": True, "array": [], "object": {}, "null": None}.get(
        str(kind), f"{name} {index}"
    )


def text_block(body: dict[str, Any], d: dict[str, str]) -> tuple[Block, str | None, str | None]:
    """The text block, and the stop_reason/stop_sequence its cutting decided (None: end_turn)."""
    chunks = int(d.get("chunks", "5"))
    utf8 = "utf8" in d
    pieces = [(" " if i else "") + (UTF8_WORDS[i % len(UTF8_WORDS)] if utf8 else f"tok{i}") for i in range(chunks)]
    stop_reason = stop_sequence = None
    stops = [s for s in body.get("stop_sequences") or [] if isinstance(s, str) and s]
    full = "".join(pieces)
    found = [(full.find(s), s) for s in stops if s in full]
    if found and "stop_sequence" not in d:
        cut, stop_sequence = min(found)
        kept, length = [], 0
        for piece in pieces:
            if length + len(piece) > cut:
                if cut > length:
                    kept.append(piece[: cut - length])
                break
            kept.append(piece)
            length += len(piece)
        pieces, stop_reason = kept, "stop_sequence"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens < len(pieces):
        pieces, stop_reason, stop_sequence = pieces[:max_tokens], "max_tokens", None
    start = {"type": "text", "text": ""}
    deltas = [{"type": "text_delta", "text": p} for p in pieces]
    return Block(start, deltas, {"type": "text", "text": "".join(pieces)}), stop_reason, stop_sequence


def plan(body: dict[str, Any], d: dict[str, str]) -> dict[str, Any]:
    blocks: list[Block] = []
    thinking: dict[str, Any] = body["thinking"] if isinstance(body.get("thinking"), dict) else {}
    if "redacted_thinking" in d:
        data = base64.b64encode(
            hashlib.sha256(b"redacted|" + json.dumps(body.get("messages")).encode()).digest()
        ).decode()
        block = {"type": "redacted_thinking", "data": "EmwKAhgBEgy" + data}
        blocks.append(Block(block, [], block))
    wants_thinking = "thinking" in d or thinking.get("type") in ("enabled", "adaptive")
    if wants_thinking and "nothink" not in d:
        count = int(d["thinking"]) if d.get("thinking") else 3
        parts = [(" " if i else "") + f"think{i}" for i in range(count)]
        if thinking.get("display") == "omitted":
            parts = []
        thought = "".join(parts)
        signature = sign(thought)
        deltas: list[dict[str, Any]] = [{"type": "thinking_delta", "thinking": p} for p in parts]
        deltas.append({"type": "signature_delta", "signature": signature})
        start = {"type": "thinking", "thinking": "", "signature": ""}
        blocks.append(Block(start, deltas, {"type": "thinking", "thinking": thought, "signature": signature}))
    chunks = int(d.get("chunks", "5"))
    stop_reason: str | None = None
    stop_sequence: str | None = None
    if wants_tools(body, d):
        if "preamble" in d:
            preamble, _, _ = text_block(body, {**d, "chunks": "2"})
            blocks.append(preamble)
        blocks.extend(tool_calls(body, d, chunks))
        stop_reason = "tool_use"
    else:
        answer, stop_reason, stop_sequence = text_block(body, d)
        blocks.append(answer)
    stop_details = None
    if "max_tokens" in d:
        stop_reason, stop_sequence = "max_tokens", None
    if "stop_sequence" in d:
        stops = body.get("stop_sequences") or ["STOP"]
        stop_reason, stop_sequence = "stop_sequence", d["stop_sequence"] or stops[0]
    if "refusal" in d:
        stop_reason, stop_sequence = "refusal", None
        stop_details = {"type": "refusal", "category": None, "explanation": "This request was refused (fake)."}
    if "stop_reason" in d:
        stop_reason, stop_sequence = d["stop_reason"], None
    output_tokens = sum(
        1 for b in blocks for x in b.deltas if x["type"] != "signature_delta" and (x.get("partial_json", "x") != "")
    )
    input_tokens, cache_write, cache_read = split_cache(body, d)
    return {
        "blocks": blocks,
        "stop_reason": stop_reason or "end_turn",
        "stop_sequence": stop_sequence,
        "stop_details": stop_details,
        "usage": {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "output_tokens": max(1, output_tokens),
        },
    }


def full_usage(usage: dict[str, int], output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": usage["input_tokens"],
        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage["cache_creation_input_tokens"],
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def whole_message(body: dict[str, Any], planned: dict[str, Any], message_id: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [b.final for b in planned["blocks"]],
        "stop_reason": planned["stop_reason"],
        "stop_sequence": planned["stop_sequence"],
        "usage": full_usage(planned["usage"], planned["usage"]["output_tokens"]),
    }
    if planned["stop_details"]:
        message["stop_details"] = planned["stop_details"]
    return message


def event(name: str, data: dict[str, Any]) -> bytes:
    return (
        f"event: {name}\ndata: ".encode()
        + json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        + b"\n\n"
    )


PING = b'event: ping\ndata: {"type": "ping"}\n\n'
