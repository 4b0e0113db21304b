"""The fake's rules: its constants and shared state, its error type, the directives read from a
request, and its token counts (count_tokens and usage alike)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from typing import Any

Scope = dict[str, Any]
Receive = Any
Send = Any


DIRECTIVES = re.compile(r"\[\[(.*?)\]\]", re.S)
TOOL_ID = re.compile(r"[a-zA-Z0-9_-]+")
UTF8_WORDS = ("héllo", "wörld", "🙂", "日本語", "ça", "💡")

# The published values of the anthropic-version header (docs: /en/api/versioning; SDK 2.x sends the last).
API_VERSIONS = ("2023-01-01", "2023-06-01", "2026-10-21")
SAMPLING_REMOVED_IN = "2026-10-21"

# (id, display_name, created_at): what GET /v1/models lists, most recently released first as Anthropic lists
# them. The ids are ones the 2.x SDK's ModelParam names; the dates are the fake's own.
MODELS = (
    ("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-09-01T00:00:00Z"),
    ("claude-opus-5-5", "Claude Opus 5.5", "2026-08-01T00:00:00Z"),
    ("claude-opus-4-8", "Claude Opus 4.8", "2026-06-01T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
)

# Top-level fields of POST /v1/messages (anthropic.types.MessageCreateParams, plus the sampling
# parameters that API version 2023-06-01 still takes).
MESSAGE_FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "metadata",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "thinking",
        "cache_control",
        "container",
        "diagnostics",
        "inference_geo",
        "output_config",
        "service_tier",
        "speed",
        "temperature",
        "top_p",
        "top_k",
    }
)
COUNT_TOKENS_FIELDS = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "cache_control", "output_config", "speed"}
)
# Fields only the beta Messages API takes (anthropic.types.beta.MessageCreateParams).
BETA_FIELDS = frozenset(
    {
        "context_management",
        "mcp_servers",
        "output_format",
        "compaction",
        "fallbacks",
        "thread",
        "billing_policy",
        "fallback_credit_token",
        "container",
    }
)
SAMPLING_FIELDS = ("temperature", "top_p", "top_k")
MESSAGE_KEYS = frozenset({"role", "content"})
# A role "system" turn (anthropic.types.SystemMessageParam) may also carry its own output_config, as
# Claude Code sends it ({"role": "system", "content": [], "output_config": {"effort": "medium"}}).
SYSTEM_MESSAGE_KEYS = frozenset({"role", "content", "output_config"})
USER_BLOCKS = frozenset({"text", "image", "document", "tool_result", "search_result", "container_upload"})
ASSISTANT_BLOCKS = frozenset(
    {"text", "thinking", "redacted_thinking", "tool_use", "server_tool_use", "web_search_tool_result"}
)
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {
    "overloaded_error": "Overloaded",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
    "api_error": "Internal server error",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
}

requests_seen: list[dict[str, Any]] = []
attempts: dict[str, int] = {}
mode: dict[str, Any] = {}
cache_prefixes: set[str] = set()
_ids = itertools.count(1)


class ApiError(Exception):
    """An answer in Anthropic's error shape: `{"type": "error", "error": {"type", "message"}, "request_id"}`."""

    def __init__(self, status: int, message: str, error_type: str | None = None, headers: Any = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or error_type_for(status)
        self.headers = list(headers)


def error_type_for(status: int) -> str:
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    # "We may also use this error type for other 4XX status codes" (docs: /en/api/errors).
    return "api_error" if status >= 500 else "invalid_request_error"


def invalid(message: str) -> ApiError:
    return ApiError(400, message, "invalid_request_error")


def new_id(prefix: str) -> str:
    return f"{prefix}_01fake{next(_ids):016d}"


def directives_text(body: dict[str, Any]) -> str:
    """The text of the last user message that has any (a turn of tool_results has none)."""
    for message in reversed(body.get("messages") or []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        text = block_text(message.get("content"))
        if text:
            return text
    return ""


def block_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def directives(body: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for group in DIRECTIVES.findall(directives_text(body)):
        for token in group.split():
            key, _, value = token.partition("=")
            found[key] = value  # "" for a bare flag
    return found


def sign(thinking: str) -> str:
    """The fake's thinking signature: opaque, deterministic, checked when a thinking block comes back."""
    return base64.b64encode(hashlib.sha256(b"fake-anthropic|" + thinking.encode()).digest() * 2).decode()


# ---------------------------------------------------------------------------------------------------------
# Token counting
# ---------------------------------------------------------------------------------------------------------


def words(value: Any) -> int:
    return len(str(value).split()) if value else 0


def block_tokens(block: Any) -> int:
    if isinstance(block, str):
        return words(block)
    if not isinstance(block, dict):
        return 0
    kind = block.get("type")
    if kind == "text":
        return words(block.get("text"))
    if kind == "image":
        return 100
    if kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            return words(source.get("data"))
        if source.get("type") == "content":
            return sum(block_tokens(b) for b in source.get("content") or [])
        return 200
    if kind == "tool_use":
        return words(block.get("name")) + words(json.dumps(block.get("input"), sort_keys=True))
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, list):
            return sum(block_tokens(b) for b in content)
        return words(content)
    if kind == "thinking":
        return words(block.get("thinking"))
    return 0


def message_tokens(message: Any) -> int:
    if not isinstance(message, dict):
        return 0
    content = message.get("content")
    blocks = content if isinstance(content, list) else [content]
    return 3 + sum(block_tokens(b) for b in blocks)


def count_input_tokens(body: dict[str, Any]) -> int:
    """The fake's tokenizer, the same for count_tokens and for `usage`: whitespace-separated words of every
    text (system, text blocks, tool_result text, thinking text, a document's text source), plus 3 for
    each message, 100 for each image, 200 for each PDF/URL/file document, and for each tool the words of
    its name, its description and its input_schema as JSON (sort_keys, default separators); for each
    tool_use block the words of its name and of its input as JSON. Tools with no input_schema (server
    tools) count the words of their JSON."""
    system = body.get("system")
    total = block_tokens(system) if isinstance(system, str) else sum(block_tokens(b) for b in system or [])
    total += sum(message_tokens(m) for m in body.get("messages") or [])
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        if "input_schema" in tool:
            total += words(tool.get("name")) + words(tool.get("description"))
            total += words(json.dumps(tool.get("input_schema"), sort_keys=True))
        else:
            total += words(json.dumps(tool, sort_keys=True))
    return total


def split_cache(body: dict[str, Any], d: dict[str, str]) -> tuple[int, int, int]:
    """(input_tokens, cache_creation_input_tokens, cache_read_input_tokens): Anthropic's input_tokens
    counts only what came after the last cache breakpoint, so the three add up to the prompt."""
    total = count_input_tokens(body)
    messages = body.get("messages") or []
    prefix = total - (message_tokens(messages[-1]) if messages else 0)
    if "cache" in d:
        if d["cache"] == "write":
            return total - prefix, prefix, 0
        return total - prefix, 0, prefix
    if '"cache_control"' not in json.dumps(body):
        return total, 0, 0
    key = hashlib.sha256(
        json.dumps([body.get("model"), body.get("system"), body.get("tools"), messages[:-1]], sort_keys=True).encode()
    ).hexdigest()
    if key in cache_prefixes:
        return total - prefix, 0, prefix
    cache_prefixes.add(key)
    return total - prefix, prefix, 0
