"""OpenAI's event stream, read: lines of bytes to `Chunk`s. Pure, no I/O.

Lines are split on bytes before they are decoded, so a UTF-8 character split across network reads
arrives whole. The events that arrived in one read become one Chunk (their text joined), relayed
in one write.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.upstreams.llm import Chunk, StreamFailed, Usage, usage_of

_DONE = Chunk(finish_reason="[DONE]")


def parse_line(line: bytes, raw: bool = False, usage_wanted: bool = True) -> Chunk | None:
    """One line of OpenAI's SSE: a Chunk, None for lines to skip, or _DONE. With `raw`, the chunk
    also carries the event as it came, to be relayed; a usage-only event is relayed only if the
    client asked for usage (the upstream is always asked)."""
    line = line.rstrip(b"\r")
    if not line or line.startswith(b":"):
        return None
    if not line.startswith(b"data:"):
        if line.startswith((b"event:", b"id:", b"retry:")):
            return None
        raise StreamFailed("upstream_error", "the upstream sent a malformed event stream")
    data = line[5:].strip()
    if data == b"[DONE]":
        return _DONE
    try:
        event = orjson.loads(data)
    except ValueError:  # orjson.JSONDecodeError is one
        raise StreamFailed("upstream_error", "the upstream sent a data line that is not JSON") from None
    if not isinstance(event, dict):
        raise StreamFailed("upstream_error", "the upstream sent an event that is not an object")
    if "error" in event:
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise StreamFailed("upstream_error", f"the upstream reported an error: {message or 'no message'}")
    text = ""
    finish = None
    tool_calls: tuple[Any, ...] = ()
    choices = event.get("choices") or ()
    if choices and isinstance(choices[0], dict):
        choice = choices[0]
        delta = choice.get("delta") or {}
        if isinstance(delta, dict):
            content = delta.get("content")
            if isinstance(content, str):
                text = content
            calls = delta.get("tool_calls")
            if calls:  # its items are checked where they are read (Answer.add_calls)
                tool_calls = tuple(calls) if isinstance(calls, list) else ()
        finish = choice.get("finish_reason")
    usage = usage_of(event.get("usage"))
    relayed = line + b"\n\n" if raw and (usage_wanted or usage is None or choices) else b""
    if not text and finish is None and usage is None and not tool_calls and not relayed:
        return None
    finish = finish if isinstance(finish, str) else None
    if usage is None:
        return Chunk(text, finish, None, tool_calls, relayed)
    model = event.get("model")  # read with the usage, once a stream: what tracing says answered
    return Chunk(text, finish, usage, tool_calls, relayed, model if isinstance(model, str) else None)


def merge(
    lines: list[bytes], raw: bool = False, usage_wanted: bool = True
) -> tuple[Chunk | None, bool, StreamFailed | None]:
    """The events of some lines as one Chunk (text, tool calls and events joined; last finish
    reason and usage), whether `[DONE]` was among them, and the failure of a bad line, to be
    raised only after the text before it has been relayed."""
    events: list[Chunk] = []
    done = False
    failure: StreamFailed | None = None
    for line in lines:
        if not line or line == b"\r":  # the blank line after every event: the common case, first
            continue
        try:
            chunk = parse_line(line, raw, usage_wanted)
        except StreamFailed as exc:
            failure = exc
            break
        if chunk is None:
            continue
        if chunk is _DONE:
            done = True
            break
        events.append(chunk)
    if len(events) <= 1:  # one event a read, as a paced upstream sends them: no new Chunk
        return (events[0] if events else None), done, failure
    texts: list[str] = []
    finish: str | None = None
    usage: Usage | None = None
    model: str | None = None
    calls: list[dict[str, Any]] = []
    for chunk in events:
        if chunk.text:
            texts.append(chunk.text)
        if chunk.tool_calls:
            calls.extend(chunk.tool_calls)
        finish = chunk.finish_reason or finish
        usage = chunk.usage or usage
        model = chunk.model or model
    relayed = b"".join(chunk.raw for chunk in events) if raw else b""
    return Chunk("".join(texts), finish, usage, tuple(calls), relayed, model), done, failure
