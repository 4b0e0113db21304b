"""OpenAI's Responses API, read: its event stream as Chunks, and a whole Response as the
`chat.completion` the record reads. Pure, no I/O.

The events of one network read become one Chunk, relayed together (`raw`, the events as they
came, for a Responses client). What the record keeps is read from them: the text, the function
calls (as chat's tool-call fragments, the n-th function call of the response at index n), the
reasoning summary's text, each reasoning item whole (it goes back to the upstream on the next turn,
`encrypted_content` and all), the usage and how the response ended.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.upstreams.llm import Chunk, StreamFailed, Usage

ENDED = {"response.completed", "response.incomplete"}
INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


def usage_of(value: Any) -> Usage | None:
    """The Responses API's usage object, read."""
    if not isinstance(value, dict):
        return None
    given = value.get("input_tokens_details")
    output = value.get("output_tokens_details")
    cached = given.get("cached_tokens") if isinstance(given, dict) else None
    reasoning = output.get("reasoning_tokens") if isinstance(output, dict) else None
    return Usage(
        int(value.get("input_tokens") or 0),
        int(value.get("output_tokens") or 0),
        cached_tokens=cached if isinstance(cached, int) else None,
        reasoning_tokens=reasoning if isinstance(reasoning, int) else None,
    )


def finish_of(response: Any, calls: int) -> str:
    details = response.get("incomplete_details") if isinstance(response, dict) else None
    if isinstance(details, dict) and details.get("reason") in INCOMPLETE:
        return INCOMPLETE[details["reason"]]
    return "tool_calls" if calls else "stop"


class ResponseEvents:
    """One response's events, read a network read at a time (`feed`, as openai_sse.merge does)."""

    __slots__ = ("calls", "event", "raw", "sent")

    def __init__(self, raw: bool) -> None:
        self.raw = raw
        self.event: list[bytes] = []  # the lines of the event being read
        self.sent: dict[int, int] = {}  # the index of each function call, by its output index
        self.calls = 0

    def feed(self, lines: list[bytes]) -> tuple[Chunk | None, bool, StreamFailed | None]:
        texts: list[str] = []
        reasoning: list[str] = []
        fragments: list[dict[str, Any]] = []
        thinking: list[dict[str, Any]] = []
        relayed: list[bytes] = []
        finish: str | None = None
        usage: Usage | None = None
        model: str | None = None
        done = False
        failure: StreamFailed | None = None
        for line in lines:
            line = line.rstrip(b"\r")
            if line:
                self.event.append(line)
                continue
            event, self.event = self.event, []
            if not event:
                continue
            if self.raw:
                relayed.append(b"\n".join(event) + b"\n\n")
            data = next((part[5:].strip() for part in event if part.startswith(b"data:")), None)
            if data is None or data == b"[DONE]":
                continue
            try:
                parsed = orjson.loads(data)
            except ValueError:
                failure = StreamFailed("upstream_error", "the upstream sent a data line that is not JSON")
                break
            kind = parsed.get("type") if isinstance(parsed, dict) else None
            if kind == "response.output_text.delta":
                texts.append(str(parsed.get("delta") or ""))
            elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
                reasoning.append(str(parsed.get("delta") or ""))
            elif kind == "response.output_item.added":
                fragments += self._call_started(parsed)
            elif kind == "response.function_call_arguments.delta":
                index = self.sent.get(parsed.get("output_index"))
                if index is not None and parsed.get("delta"):
                    fragments.append({"index": index, "function": {"arguments": parsed["delta"]}})
            elif kind == "response.output_item.done":
                item = parsed.get("item")
                if isinstance(item, dict) and item.get("type") == "reasoning":
                    thinking.append(item)
            elif kind in ENDED:
                response = parsed.get("response") or {}
                usage = usage_of(response.get("usage"))
                finish = finish_of(response, self.calls)
                model = response.get("model") if isinstance(response.get("model"), str) else None
                done = True
            elif kind in ("response.failed", "error"):
                failure = StreamFailed("upstream_error", f"the upstream reported an error: {_message(parsed)}")
                break
        if not (texts or reasoning or fragments or thinking or relayed or finish or usage):
            return None, done, failure
        chunk = Chunk(
            "".join(texts),
            finish,
            usage,
            tuple(fragments),
            b"".join(relayed),
            model,
            "".join(reasoning),
            tuple(thinking),
        )
        return chunk, done, failure

    def _call_started(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") != "function_call":
            return []
        index = self.sent[event.get("output_index", self.calls)] = self.calls
        self.calls += 1
        function = {"name": str(item.get("name") or ""), "arguments": str(item.get("arguments") or "")}
        return [{"index": index, "id": str(item.get("call_id") or ""), "type": "function", "function": function}]


def _message(event: dict[str, Any]) -> str:
    error = event.get("error") or (event.get("response") or {}).get("error") or event
    return str(error.get("message") or "no message") if isinstance(error, dict) else str(error)


def to_chat_completion(response: dict[str, Any]) -> dict[str, Any]:
    """A whole Response as OpenAI's `chat.completion`: what the record reads of any answer."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    reasoning: list[str] = []
    blocks: list[dict[str, Any]] = []
    for item in response.get("output") or ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            texts += [part.get("text", "") for part in item.get("content") or () if isinstance(part, dict)]
        elif kind == "function_call":
            function = {"name": item.get("name", ""), "arguments": item.get("arguments", "")}
            calls.append({"id": item.get("call_id", ""), "type": "function", "function": function})
        elif kind == "reasoning":
            reasoning += [part.get("text", "") for part in item.get("summary") or () if isinstance(part, dict)]
            blocks.append(item)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if blocks:
        message["thinking_blocks"] = blocks
    usage = usage_of(response.get("usage"))
    body: dict[str, Any] = {
        "id": response.get("id"),
        "object": "chat.completion",
        "model": response.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_of(response, len(calls))}],
    }
    if usage is not None:
        details = {"cached_tokens": usage.cached_tokens or 0}
        body["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": details,
            "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        }
    return body
