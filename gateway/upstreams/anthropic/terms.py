"""What the two APIs name differently, both ways: stop reasons and finish reasons, usage, tool-call
ids, and reasoning efforts and thinking budgets. Pure.

Anthropic's `input_tokens` leaves cache reads and writes out; OpenAI's `prompt_tokens` counts them
in. So `prompt_tokens = input_tokens + cache_read_input_tokens + cache_creation_input_tokens`, and
the reverse takes them out again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any

import orjson

from gateway.upstreams.llm import Usage
from gateway.upstreams.llm import usage_of as chat_usage_of

# Anthropic's stop_reason -> OpenAI's finish_reason. pause_turn (a server tool's loop paused) has no
# OpenAI equivalent: the turn ended, so `stop`. A full context window is a length limit.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
    "model_context_window_exceeded": "length",
    "compaction": "length",
}
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

# reasoning_effort -> thinking.budget_tokens. Anthropic's minimum budget is 1024, so `minimal` gets it
# too; xhigh and max, which have no budget of LiteLLM's, double high's at each step.
BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096, "xhigh": 8192, "max": 16384}
# OpenAI's efforts as Anthropic's output_config.effort (adaptive thinking).
EFFORTS = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "max"}

_TOOL_ID = re.compile(r"[a-zA-Z0-9_-]+")
_NOT_ID = re.compile(r"[^a-zA-Z0-9_-]+")


def finish_reason(stop_reason: Any) -> str | None:
    """OpenAI's finish_reason for Anthropic's stop_reason (None while there is none)."""
    if not isinstance(stop_reason, str):
        return None
    return FINISH_REASONS.get(stop_reason, "stop")


def stop_reason(finish_reason: Any) -> str:
    """Anthropic's stop_reason for OpenAI's finish_reason (an answer that ended for no said reason: end_turn)."""
    return STOP_REASONS.get(finish_reason, "end_turn") if isinstance(finish_reason, str) else "end_turn"


def effort_of(budget_tokens: int) -> str:
    """The reasoning_effort of a thinking budget (LiteLLM's thresholds)."""
    if budget_tokens <= 128:
        return "minimal"
    if budget_tokens <= 1024:
        return "low"
    if budget_tokens <= 2048:
        return "medium"
    return "high"


def tool_id(value: str) -> str:
    """A tool-call id Anthropic takes (`^[a-zA-Z0-9_-]+$`): the id itself when it fits, else its
    other characters replaced and a digest of the whole added, so that two ids never become one
    and the same id always becomes the same (in tool_use.id and tool_result.tool_use_id alike)."""
    if _TOOL_ID.fullmatch(value):
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{_NOT_ID.sub('_', value)[:48]}_{digest}"


def as_dict(value: Any) -> dict[str, Any]:
    """A value that should be an object, or an empty one."""
    return value if isinstance(value, dict) else {}


def signed_blocks(blocks: Any) -> list[dict[str, Any]]:
    """Of LiteLLM's `thinking_blocks`, those that can go back to Anthropic, as they came: signed
    thinking blocks and redacted ones (a thinking block without its signature is refused)."""
    kept = []
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        if block.get("type") == "thinking" and isinstance(block.get("signature"), str) and block["signature"]:
            thinking = block.get("thinking") if isinstance(block.get("thinking"), str) else ""
            kept.append({"type": "thinking", "thinking": thinking, "signature": block["signature"]})
        elif block.get("type") == "redacted_thinking" and isinstance(block.get("data"), str):
            kept.append({"type": "redacted_thinking", "data": block["data"]})
    return kept


def tool_input(arguments: Any) -> dict[str, Any]:
    """A call's arguments as a tool_use input, which must be an object: `{}` when they are not one."""
    try:
        value = orjson.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_of(usage: Any) -> Usage | None:
    """Anthropic's usage object as the gateway's `Usage` (cache reads and writes counted in the prompt)."""
    if not isinstance(usage, dict):
        return None
    read = _int(usage.get("cache_read_input_tokens"))
    written = _int(usage.get("cache_creation_input_tokens"))
    details = usage.get("output_tokens_details")
    thinking = _int(details.get("thinking_tokens")) if isinstance(details, dict) else None
    return Usage(
        (_int(usage.get("input_tokens")) or 0) + (read or 0) + (written or 0),
        _int(usage.get("output_tokens")) or 0,
        cached_tokens=read,
        reasoning_tokens=thinking,
        cache_creation_tokens=written,
    )


def openai_usage_of(value: Any) -> Usage | None:
    """OpenAI's usage object, read: cache writes under OpenAI's name (`cache_write_tokens`) too."""
    usage = chat_usage_of(value)
    if usage is None or usage.cache_creation_tokens is not None:
        return usage
    details = value.get("prompt_tokens_details")
    written = _int(details.get("cache_write_tokens")) if isinstance(details, dict) else None
    return usage if written is None else dataclasses.replace(usage, cache_creation_tokens=written)


def anthropic_usage(usage: Usage) -> dict[str, int]:
    """The gateway's `Usage` as Anthropic's usage object (cache reads and writes out of input_tokens)."""
    read = usage.cached_tokens or 0
    written = usage.cache_creation_tokens or 0
    return {
        "input_tokens": max(0, usage.prompt_tokens - read - written),
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
    }


def chat_usage(usage: Usage) -> dict[str, Any]:
    """The gateway's `Usage` as OpenAI's usage object. Cache writes go in `prompt_tokens_details` twice:
    as `cache_creation_tokens`, the name the gateway reads back, and as `cache_write_tokens`, OpenAI's."""
    value: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    prompt: dict[str, int] = {}
    if usage.cached_tokens is not None:
        prompt["cached_tokens"] = usage.cached_tokens
    if usage.cache_creation_tokens is not None:
        prompt.update(cache_creation_tokens=usage.cache_creation_tokens, cache_write_tokens=usage.cache_creation_tokens)
    if prompt:
        value["prompt_tokens_details"] = prompt
    if usage.reasoning_tokens is not None:
        value["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return value
