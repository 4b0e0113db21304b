"""Gemini's whole answer (`generateContent`) as OpenAI's `chat.completion`. Pure.

The first candidate's parts are read as a stream's are (parts.py): text joined into `content`
(null when there is none), thoughts as `reasoning_content`, function calls as `tool_calls` whose
ids carry their thought signatures. A blocked prompt (no candidates) is an empty answer whose
finish reason is `content_filter`.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.upstreams.anthropic.terms import chat_usage
from gateway.upstreams.gemini.parts import Parts
from gateway.upstreams.gemini.terms import finish_reason, usage_of


def to_chat_completion(response: dict[str, Any], completion_id: str, model: str) -> dict[str, Any]:
    """Gemini's GenerateContentResponse as a `chat.completion` (`model`: the one asked for, unless
    Gemini named its version)."""
    candidates = response.get("candidates")
    candidate = candidates[0] if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict) else {}
    content = candidate.get("content")
    parts = Parts()
    parts.take(content.get("parts") if isinstance(content, dict) else None)
    texts, thoughts, calls = parts.drain()
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        reply["tool_calls"] = [{key: value for key, value in call.items() if key != "index"} for call in calls]
    if thoughts:
        reply["reasoning_content"] = "".join(thoughts)
    said = candidate.get("finishReason") if candidate else "SAFETY"
    completion: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": response.get("modelVersion") if isinstance(response.get("modelVersion"), str) else model,
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": finish_reason(said, bool(calls)) or "stop",
            }
        ],
    }
    usage = usage_of(response.get("usageMetadata"))
    if usage is not None:
        completion["usage"] = chat_usage(usage)
    return completion
