"""Anthropic's checks of a request's headers and top-level fields, as its API words its refusals."""

from __future__ import annotations

from typing import Any

from bench.fake_anthropic.rules import (
    API_VERSIONS,
    BETA_FIELDS,
    COUNT_TOKENS_FIELDS,
    MESSAGE_FIELDS,
    SAMPLING_FIELDS,
    SAMPLING_REMOVED_IN,
    ApiError,
    invalid,
    mode,
)
from bench.fake_anthropic.turns import check_messages

Scope = dict[str, Any]
Receive = Any
Send = Any


def check_headers(headers: dict[str, str], entry: dict[str, Any]) -> None:
    api_key = headers.get("x-api-key")
    entry["auth"] = "x-api-key" if api_key else None
    if not api_key:
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer ") and authorization[7:].strip():
            api_key = authorization[7:].strip()
            entry["auth"] = "bearer"
    entry["api_key"] = api_key
    if not api_key:
        raise ApiError(401, "x-api-key header is required")
    allowed = mode.get("api_keys")
    if (allowed is not None and api_key not in allowed) or api_key.startswith("bad"):
        raise ApiError(401, "invalid x-api-key")
    version = headers.get("anthropic-version")
    entry["anthropic_version"] = version
    if version is None:
        raise invalid("anthropic-version: header is required")
    if version not in API_VERSIONS:
        raise invalid(f'anthropic-version: "{version}" is not a valid version')
    beta = headers.get("anthropic-beta")
    entry["anthropic_beta"] = [v.strip() for v in beta.split(",")] if beta is not None else []
    if beta is not None and not beta.strip():
        raise invalid(
            "Unexpected value(s) `` for the `anthropic-beta` header. Please consult our documentation at "
            "docs.claude.com or try again without the header."
        )


def check_body(body: Any, entry: dict[str, Any], count_tokens: bool = False) -> None:
    if not isinstance(body, dict):
        raise invalid("Input should be a valid dictionary")
    allowed = COUNT_TOKENS_FIELDS if count_tokens else MESSAGE_FIELDS
    beta = bool(entry.get("anthropic_beta"))
    for key in body:
        if key not in allowed and not (beta and key in BETA_FIELDS):
            raise invalid(f"{key}: Extra inputs are not permitted")
    required = ("model", "messages") if count_tokens else ("model", "max_tokens", "messages")
    for key in required:
        if key not in body:
            raise invalid(f"{key}: Field required")
    if not isinstance(body["model"], str) or not body["model"]:
        raise invalid("model: Input should be a valid string")
    if not count_tokens:
        max_tokens = body["max_tokens"]
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise invalid("max_tokens: Input should be a valid integer")
        if max_tokens < 0:
            raise invalid("max_tokens: Input should be greater than or equal to 0")
    if entry.get("anthropic_version") == SAMPLING_REMOVED_IN:
        for key in SAMPLING_FIELDS:
            if key in body:
                raise invalid(f"`{key}` is deprecated for this model.")
    check_system(body.get("system"))
    check_stop_sequences(body.get("stop_sequences"))
    tools = check_tools(body.get("tools"))
    check_tool_choice(body.get("tool_choice"), tools)
    thinking = check_thinking(body, count_tokens)
    check_messages(body["messages"], thinking, entry.get("anthropic_version"), bool(tools))


def check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid("system: Input should be a valid string or a list of text blocks")
    for index, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise invalid(f"system.{index}.type: Input should be 'text'")
        if not isinstance(block.get("text"), str):
            raise invalid(f"system.{index}.text: Field required")
        if not block["text"].strip():
            raise invalid("system: text content blocks must be non-empty")


def check_stop_sequences(stops: Any) -> None:
    if stops is None:
        return
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise invalid("stop_sequences: Input should be a valid list of strings")
    for stop in stops:
        if not stop.strip():
            raise invalid("stop_sequences: each stop sequence must contain non-whitespace")


def check_tools(tools: Any) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise invalid("tools: Input should be a valid list")
    names = set()
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise invalid(f"tools.{index}: Input should be a valid dictionary")
        if tool.get("type") in (None, "custom"):
            if "name" not in tool:
                raise invalid(f"tools.{index}.custom.name: Field required")
            if "input_schema" not in tool:
                raise invalid(f"tools.{index}.custom.input_schema: Field required")
            if "parameters" in tool or "function" in tool:
                extra = "parameters" if "parameters" in tool else "function"
                raise invalid(f"tools.{index}.custom.{extra}: Extra inputs are not permitted")
            schema = tool["input_schema"]
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise invalid(f"tools.{index}.custom.input_schema.type: Input should be 'object'")
        name = tool.get("name")
        if name in names:
            raise invalid("tools: Tool names must be unique.")
        names.add(name)
    return tools


def check_tool_choice(choice: Any, tools: list[dict[str, Any]]) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise invalid(
            "tool_choice: Input tag found using 'type' does not match any of the expected tags: "
            "'auto', 'any', 'tool', 'none'"
        )
    if choice["type"] == "tool":
        if "name" not in choice:
            raise invalid("tool_choice.tool.name: Field required")
        if choice["name"] not in {t.get("name") for t in tools}:
            raise invalid(f"tool_choice: Tool '{choice['name']}' not found in provided tools")


def check_thinking(body: dict[str, Any], count_tokens: bool) -> str | None:
    """The request's thinking type (enabled, adaptive, disabled or None)."""
    thinking = body.get("thinking")
    if thinking is None:
        return None
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive", "disabled"):
        raise invalid(
            "thinking: Input tag found using 'type' does not match any of the expected tags: "
            "'enabled', 'adaptive', 'disabled'"
        )
    if thinking["type"] == "enabled":
        budget = thinking.get("budget_tokens")
        if budget is None:
            raise invalid("thinking.enabled.budget_tokens: Field required")
        if not isinstance(budget, int) or budget < 1024:
            raise invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if not count_tokens and body["max_tokens"] <= budget:
            raise invalid(
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
                "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
            )
    choice = body.get("tool_choice") or {}
    if thinking["type"] != "disabled" and choice.get("type") in ("any", "tool"):
        raise invalid("Thinking may not be enabled when tool_choice forces tool use.")
    return str(thinking["type"])
