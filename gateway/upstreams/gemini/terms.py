"""What Gemini and OpenAI's chat completions name differently: finish reasons, usage, reasoning
efforts, and the tool-call ids that carry Gemini's thought signatures. Pure.

A thought signature is opaque model state Gemini puts on a `functionCall` part (the first of each
step) and wants back on that very part on the next turn of a tool conversation (Gemini 3 refuses
the turn without it). OpenAI's chat completions have no field for it, and clients drop fields they
do not know, but every client sends a tool call's id back as it came: so the id the gateway hands
out carries the signature, after LiteLLM's separator (`call_…__thought__<signature>`), in base64's
URL-safe alphabet without padding (so that the id fits Anthropic's pattern too); Google reads
either alphabet, and the standard one is restored on the way back. Nothing is kept anywhere: a
restart, another instance or another gateway of LiteLLM's kind sends the same id back.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from gateway.upstreams.llm import Usage

SEPARATOR = "__thought__"  # LiteLLM's, so an id either made goes back to Gemini alike
# The documented stand-in for a signature Gemini never gave (history from another model, or a
# client that lost the id): Gemini 3 then skips the check instead of refusing the turn.
SKIP_SIGNATURE = "skip_thought_signature_validator"
# Gemini's finishReason -> OpenAI's finish_reason; the others (MALFORMED_FUNCTION_CALL,
# UNEXPECTED_TOOL_CALL, OTHER…) ended the answer for no reason OpenAI names: `stop`.
FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length"}
FILTERED = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "IMAGE_OTHER",
        "MODEL_ARMOR",
    }
)
# reasoning_effort -> thinkingConfig: Gemini 3 takes levels, Gemini 2.5 budgets (the budgets of
# Google's OpenAI-compatible endpoint; `none` turns 2.5's thinking off, Gemini 3's cannot be).
LEVELS = {"none": "MINIMAL", "minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH"}
BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768}
_OLDER = re.compile(r"(?:.*/)?gemini-(?:1|2)(?:\.|-|$)")  # models that think by budgets, or not at all


def finish_reason(value: Any, called: bool) -> str | None:
    """OpenAI's finish_reason for Gemini's finishReason (None while there is none); an answer of
    function calls is `tool_calls`, though Gemini says STOP."""
    if not isinstance(value, str):
        return None
    if value in FILTERED:
        return "content_filter"
    if called:
        return "tool_calls"
    return FINISH_REASONS.get(value, "stop")


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_of(metadata: Any) -> Usage | None:
    """Gemini's usageMetadata as OpenAI's counts: the prompt (cache reads and tool-use prompts in
    it, as Gemini counts them) and the completion, thoughts included as reasoning tokens."""
    if not isinstance(metadata, dict):
        return None
    thoughts = _count(metadata.get("thoughtsTokenCount"))
    cached = metadata.get("cachedContentTokenCount")
    return Usage(
        _count(metadata.get("promptTokenCount")) + _count(metadata.get("toolUsePromptTokenCount")),
        _count(metadata.get("candidatesTokenCount")) + thoughts,
        cached_tokens=_count(cached) if cached is not None else None,
        reasoning_tokens=thoughts if "thoughtsTokenCount" in metadata else None,
    )


def thinks_by_level(model: str) -> bool:
    """Whether a model takes thinking levels (Gemini 3 and later) rather than budgets."""
    return _OLDER.match(model) is None


def call_id(given: Any, signature: Any) -> str:
    """The id a chat client gets for a function call: Gemini's own when it gave one, else a new
    one; with the call's thought signature after the separator."""
    own = given if isinstance(given, str) and given else f"call_{secrets.token_hex(12)}"
    if not isinstance(signature, str) or not signature:
        return own
    return own + SEPARATOR + signature.replace("+", "-").replace("/", "_").rstrip("=")


def signature_of(call: dict[str, Any]) -> str | None:
    """The thought signature a chat tool call carries back: in its id (the gateway's or LiteLLM's),
    or where Google's OpenAI-compatible endpoint and LiteLLM's SDK put it."""
    identifier = call.get("id")
    if isinstance(identifier, str) and SEPARATOR in identifier:
        encoded = identifier.rpartition(SEPARATOR)[2]
        if encoded:
            return encoded.replace("-", "+").replace("_", "/") + "=" * (-len(encoded) % 4)
    for holder in (_at(call, "extra_content", "google"), _at(call, "provider_specific_fields")):
        signature = holder.get("thought_signature")
        if isinstance(signature, str) and signature:
            return signature
    return None


def _at(value: dict[str, Any], *path: str) -> dict[str, Any]:
    for key in path:
        found = value.get(key)
        value = found if isinstance(found, dict) else {}
    return value


def google_of(signature: Any) -> dict[str, Any]:
    """Google's own place for a signature on an OpenAI tool call (its OpenAI-compatible endpoint's)."""
    return {"extra_content": {"google": {"thought_signature": signature}}} if isinstance(signature, str) else {}
