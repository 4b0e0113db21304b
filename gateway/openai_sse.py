"""OpenAI's event stream, read: lines of bytes to `Chunk`s. Pure, no I/O.

Lines are split on bytes before they are decoded, so a UTF-8 character split across network reads
arrives whole. The events that arrived in one read become one Chunk (their text joined), relayed
in one write.
"""

from __future__ import annotations

import orjson

from gateway.llm import Chunk, StreamFailed, Usage

_DONE = Chunk(finish_reason="[DONE]")


def parse_line(line: bytes) -> Chunk | None:
    """One line of OpenAI's SSE: a Chunk, None for lines to skip, or _DONE."""
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
    choices = event.get("choices") or ()
    if choices and isinstance(choices[0], dict):
        choice = choices[0]
        delta = choice.get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str):
            text = content
        finish = choice.get("finish_reason")
    usage = None
    raw_usage = event.get("usage")
    if isinstance(raw_usage, dict):
        usage = Usage(int(raw_usage.get("prompt_tokens") or 0), int(raw_usage.get("completion_tokens") or 0))
    if not text and finish is None and usage is None:
        return None
    return Chunk(text=text, finish_reason=finish if isinstance(finish, str) else None, usage=usage)


def merge(lines: list[bytes]) -> tuple[Chunk | None, bool, StreamFailed | None]:
    """The events of some lines as one Chunk (text joined; last finish reason and usage),
    whether `[DONE]` was among them, and the failure of a bad line, to be raised only after the
    text before it has been relayed."""
    events: list[Chunk] = []
    done = False
    failure: StreamFailed | None = None
    for line in lines:
        if not line or line == b"\r":  # the blank line after every event: the common case, first
            continue
        try:
            chunk = parse_line(line)
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
    for chunk in events:
        if chunk.text:
            texts.append(chunk.text)
        finish = chunk.finish_reason or finish
        usage = chunk.usage or usage
    return Chunk(text="".join(texts), finish_reason=finish, usage=usage), done, failure
