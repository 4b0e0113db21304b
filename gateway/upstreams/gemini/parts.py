"""The parts of Gemini's answer as OpenAI's: text, reasoning and tool calls, a stream's or a whole
answer's alike. Pure.

A text part is text, a thought (`thought: true`) is reasoning; a `functionCall` part is one whole
tool call, numbered from 0 across the answer, its id Gemini's (or a new one) carrying the part's
thought signature (terms.py), which is also given as Google's `extra_content`. Other parts
(executable code, inline data Gemini made) have no place in a chat answer and are left out.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.upstreams.gemini.terms import call_id, google_of


class Parts:
    """Parts as they come; `drain()` gives what came since the last drain."""

    __slots__ = ("_calls", "_reasoning", "_texts", "called")

    def __init__(self) -> None:
        self.called = 0  # tool calls so far: the next one's index
        self._texts: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[dict[str, Any]] = []

    def take(self, parts: Any) -> None:
        for part in parts if isinstance(parts, list) else ():
            if not isinstance(part, dict):
                continue
            text = part.get("text")
            if isinstance(text, str):
                if text:
                    (self._reasoning if part.get("thought") is True else self._texts).append(text)
                continue
            call = part.get("functionCall")
            if isinstance(call, dict):
                self._calls.append(self._call(call, part.get("thoughtSignature")))

    def _call(self, call: dict[str, Any], signature: Any) -> dict[str, Any]:
        arguments = call.get("args")
        tool_call = {
            "index": self.called,
            "id": call_id(call.get("id"), signature),
            "type": "function",
            "function": {"name": call.get("name"), "arguments": orjson.dumps(arguments or {}).decode()},
            **google_of(signature),
        }
        self.called += 1
        return tool_call

    def drain(self) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        drained = self._texts, self._reasoning, self._calls
        self._texts, self._reasoning, self._calls = [], [], []
        return drained
