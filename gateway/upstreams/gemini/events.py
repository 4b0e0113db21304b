"""Gemini's streamed answer (`streamGenerateContent?alt=sse`), read: lines of bytes to `Chunk`s in
OpenAI's chat-completions words. Pure.

`EventReader.feed` keeps `openai_sse.merge`'s contract: the lines of one network read (split on
bytes by the caller, so a UTF-8 character split across reads arrives whole) become one Chunk,
whether the stream is done, and the failure of a bad line, to be raised only after the text before
it has been relayed. Each event is one `data:` line holding a whole `GenerateContentResponse`
(Google frames them with CRLF, and sends no `[DONE]`); it is read as soon as its line is whole.

What becomes what is parts.py's (objects.py reads a whole answer the same way): text, reasoning,
and whole tool calls (Gemini never streams arguments in pieces) whose ids carry their thought
signatures. The event with a `finishReason` ends the
stream: its reason is the finish reason (`tool_calls` after calls), and the usage goes with it,
the last event's (only the last is complete), with the model Gemini named. A prompt Gemini
blocked (`promptFeedback.blockReason`, no candidates) ends it too, as `content_filter`. An
`{"error": …}` event is the failure returned.
"""

from __future__ import annotations

import orjson

from gateway.upstreams.gemini.errors import error_message
from gateway.upstreams.gemini.parts import Parts
from gateway.upstreams.gemini.terms import finish_reason, usage_of
from gateway.upstreams.llm import Chunk, StreamFailed


def _malformed(what: str) -> StreamFailed:
    return StreamFailed("upstream_error", f"the upstream sent {what}")


class EventReader:
    """One Gemini stream's state across reads: the calls counted, the last usage, whether it ended."""

    def __init__(self) -> None:
        self.parts = Parts()
        self.done = False

    def feed(self, lines: list[bytes]) -> tuple[Chunk | None, bool, StreamFailed | None]:
        parts = self.parts
        failure: StreamFailed | None = None
        finish: str | None = None
        usage = None
        model: str | None = None
        for line in lines:
            if self.done:
                break
            if not line.startswith(b"data:"):
                if line in (b"", b"\r") or line.startswith((b":", b"event:", b"id:", b"retry:")):
                    continue
                failure = _malformed("a malformed event stream")
                break
            try:
                event = orjson.loads(line[5:])
            except ValueError:  # orjson.JSONDecodeError is one
                failure = _malformed("a data line that is not JSON")
                break
            if isinstance(event, list) and event:  # some errors come as a one-element array
                event = event[0]
            if not isinstance(event, dict):
                failure = _malformed("an event that is not an object")
                break
            if "error" in event:
                failure = StreamFailed("upstream_error", f"the upstream reported an error: {error_message(event)}")
                break
            candidates = event.get("candidates")
            candidate = candidates[0] if isinstance(candidates, list) and candidates else None
            if isinstance(candidate, dict):
                content = candidate.get("content")
                if isinstance(content, dict):
                    parts.take(content.get("parts"))
                said = candidate.get("finishReason")
            else:
                feedback = event.get("promptFeedback")
                said = "SAFETY" if isinstance(feedback, dict) and feedback.get("blockReason") else None
            if said is not None:
                finish = finish_reason(said, parts.called > 0)
                usage = usage_of(event.get("usageMetadata"))
                version = event.get("modelVersion")
                model = version if isinstance(version, str) else None
                self.done = True
        texts, reasoning, calls = parts.drain()
        if not (texts or reasoning or calls or finish):
            return None, self.done, failure
        return (
            Chunk("".join(texts), finish, usage, tuple(calls), model=model, reasoning="".join(reasoning)),
            (self.done),
            failure,
        )
