"""Claude on Vertex: rawPredict and streamRawPredict, Anthropic's Messages wire format with
`anthropic_version` in the body and no `model`."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from bench.fake_google.answers import failure
from bench.fake_google.rules import (
    ANTHROPIC_VERSIONS,
    UTF8_WORDS,
    VERTEX_ANTHROPIC_VERSION,
    Send,
    anthropic_error,
    attempts,
    example_value,
    google_error,
    json_response,
    mode,
    parse_directives,
    sign,
    signature_valid,
)

# ---------------------------------------------------------------------------------------------
# Claude on Vertex: rawPredict and streamRawPredict, Anthropic's Messages wire format


def claude_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [str(b.get("text", "")) for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]
        if texts:
            return " ".join(texts)
    return ""


def claude_problem(body: dict[str, Any]) -> tuple[int, str] | None:
    if "model" in body:
        return 400, "model: Extra inputs are not permitted"
    if "anthropic_version" not in body:
        return 400, "anthropic_version: Field required"
    if body["anthropic_version"] not in ANTHROPIC_VERSIONS:
        # Reported as a 404 from Vertex for "2023-06-01"; the message here is the fake's own.
        return (
            404,
            f"anthropic_version: unsupported value {body['anthropic_version']!r}; want {VERTEX_ANTHROPIC_VERSION!r}",
        )
    if body["anthropic_version"] == "2026-10-21":
        for name in ("temperature", "top_p", "top_k"):
            if name in body:
                return 400, f"{name}: not supported in API version 2026-10-21"  # the fake's own wording
    if "max_tokens" not in body:
        return 400, "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return 400, "messages: Field required"
    for index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        for position, block in enumerate(content if isinstance(content, list) else []):
            if (
                isinstance(block, dict)
                and block.get("type") == "thinking"
                and not signature_valid(block.get("signature"))
            ):
                return 400, f"messages.{index}.content.{position}: Invalid `signature` in `thinking` block"
    return None


def claude_usage(body: dict[str, Any], d: dict[str, str]) -> dict[str, int]:
    text = json.dumps(body.get("messages")) + json.dumps(body.get("system", ""))
    return {
        "input_tokens": max(1, len(text) // 8),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": int(d.get("cache", "0")),
    }


def claude_blocks(body: dict[str, Any], d: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
    """The content blocks of the answer (tool inputs as text fragments), and the stop reason."""
    chunks = int(d.get("chunks", "5"))
    blocks: list[dict[str, Any]] = []
    thinking = body.get("thinking") or {}
    if "thinking" in d or thinking.get("type") in ("enabled", "adaptive"):
        blocks.append({"type": "thinking", "pieces": ["Let me think", " about tokens."], "signature": sign()})
    messages = body.get("messages") or [{}]
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    content = last.get("content")
    answered = (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    )
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and "name" in t]
    choice = (body.get("tool_choice") or {}).get("type", "auto")
    if ("tools" in d or (tools and choice != "none")) and not answered:
        tools = tools or [
            {"name": "lookup", "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}
        ]
        if choice == "tool":
            tools = [t for t in tools if t["name"] == body["tool_choice"].get("name")] or tools
        for index in range(int(d.get("calls", "1"))):
            tool = tools[index % len(tools)]
            text = json.dumps(example_value(tool.get("input_schema") or {"type": "object"}, "arg"))
            size = max(1, -(-len(text) // max(2, chunks)))
            pieces = [text[i : i + size] for i in range(0, len(text), size)]
            blocks.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_vrtx_{secrets.token_hex(12)}",
                    "name": tool["name"],
                    "pieces": pieces,
                }
            )
        return blocks, "tool_use"
    words_ = UTF8_WORDS if "utf8" in d else tuple(f"tok{i}" for i in range(chunks))
    pieces = [(" " if i else "") + words_[i % len(words_)] for i in range(chunks)]
    limit = body.get("max_tokens")
    stop = "end_turn"
    if isinstance(limit, int) and limit < len(pieces):
        pieces, stop = pieces[:limit], "max_tokens"
    blocks.append({"type": "text", "pieces": pieces})
    return blocks, stop


def claude_whole(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    content = []
    for block in blocks:
        if block["type"] == "thinking":
            content.append({"type": "thinking", "thinking": "".join(block["pieces"]), "signature": block["signature"]})
        elif block["type"] == "tool_use":
            content.append(
                {
                    "type": "tool_use",
                    "id": block["id"],
                    "name": block["name"],
                    "input": json.loads("".join(block["pieces"])),
                }
            )
        else:
            content.append({"type": "text", "text": "".join(block["pieces"])})
    return content


def sse_event(name: str, data: dict[str, Any]) -> bytes:
    return (
        f"event: {name}\ndata: ".encode()
        + json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        + b"\n\n"
    )


async def claude_route(body: dict[str, Any], send: Send, entry: dict[str, Any], model: str, verb: str) -> None:
    try:
        await claude(body, send, entry, model, verb)
    finally:
        entry["completed"] = True


async def claude(body: dict[str, Any], send: Send, entry: dict[str, Any], model: str, verb: str) -> None:
    if verb not in ("rawPredict", "streamRawPredict"):
        await json_response(send, 404, google_error(404, f"Method {verb} is not found."))
        return
    d = parse_directives(claude_text(body))
    if "reject" in mode:
        status = int(mode["reject"])
        await json_response(send, status, anthropic_error(status, f"sick: {status}"))
        return
    if "hang" in d:
        await asyncio.sleep(float(d["hang"]))
    problem = claude_problem(body)
    if problem:
        await json_response(send, problem[0], anthropic_error(*problem))
        return
    key = json.dumps([model, body.get("messages")], sort_keys=True)
    attempts[key] = attempts.get(key, 0) + 1
    status = int(d["reject"]) if "reject" in d else int(d.get("status", "529"))
    if "reject" in d or attempts[key] <= int(d.get("fail", "0")):
        if status == 429 and d.get("shape") != "anthropic":
            # Vertex's own quota refuses before the model is reached, in Google's shape.
            await json_response(send, 429, failure(429, True, d, attempts[key]))
        else:
            await json_response(
                send, status, anthropic_error(status, "Overloaded" if status == 529 else f"failure {attempts[key]}")
            )
        return
    blocks, stop_reason = claude_blocks(body, d)
    usage = claude_usage(body, d)
    message_id = f"msg_vrtx_{secrets.token_hex(12)}"
    output_tokens = sum(len(b["pieces"]) for b in blocks)
    if body.get("stream") is not True:
        message = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": claude_whole(blocks),
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": output_tokens},
        }
        await json_response(send, 200, message)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )
    start = {
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": 1},
        },
    }
    await send({"type": "http.response.body", "body": sse_event("message_start", start), "more_body": True})
    if "ttft" in d:
        await asyncio.sleep(float(d["ttft"]))
    delay, at, sent = float(d.get("delay", "0")), int(d.get("at", "1")), 0
    for index, block in enumerate(blocks):
        head: dict[str, Any]
        if block["type"] == "thinking":
            head, kind, field_name = {"type": "thinking", "thinking": ""}, "thinking_delta", "thinking"
        elif block["type"] == "tool_use":
            head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            kind, field_name = "input_json_delta", "partial_json"
        else:
            head, kind, field_name = {"type": "text", "text": ""}, "text_delta", "text"
        out = sse_event("content_block_start", {"type": "content_block_start", "index": index, "content_block": head})
        if index == 0:
            out += sse_event("ping", {"type": "ping"})
        await send({"type": "http.response.body", "body": out, "more_body": True})
        for piece in block["pieces"]:
            if sent == at:
                if "stall" in d:
                    await asyncio.sleep(float(d["stall"]))
                if "drop" in d:
                    raise ConnectionAbortedError("dropped on purpose")
                if "error_event" in d:
                    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                    await send({"type": "http.response.body", "body": sse_event("error", error), "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
            if sent and delay:
                await asyncio.sleep(delay)
            delta = {"type": "content_block_delta", "index": index, "delta": {"type": kind, field_name: piece}}
            await send(
                {"type": "http.response.body", "body": sse_event("content_block_delta", delta), "more_body": True}
            )
            sent += 1
        out = b""
        if block["type"] == "thinking":
            signature = {"type": "signature_delta", "signature": block["signature"]}
            out += sse_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": signature})
        out += sse_event("content_block_stop", {"type": "content_block_stop", "index": index})
        await send({"type": "http.response.body", "body": out, "more_body": True})
    tail = sse_event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
    )
    tail += sse_event("message_stop", {"type": "message_stop"})
    entry["completed"] = True
    await send({"type": "http.response.body", "body": tail, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
