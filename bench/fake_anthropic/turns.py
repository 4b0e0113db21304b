"""Anthropic's checks of a request's messages: blocks, sources, tool pairs, thinking first."""

from __future__ import annotations

import base64
from typing import Any

from bench.fake_anthropic.rules import (
    ASSISTANT_BLOCKS,
    MESSAGE_KEYS,
    SAMPLING_REMOVED_IN,
    SYSTEM_MESSAGE_KEYS,
    TOOL_ID,
    USER_BLOCKS,
    invalid,
    sign,
)

Scope = dict[str, Any]
Receive = Any
Send = Any


def check_messages(messages: Any, thinking: str | None, version: str | None, has_tools: bool = True) -> None:
    if not isinstance(messages, list):
        raise invalid("messages: Input should be a valid list")
    if not messages:
        raise invalid("messages: List should have at least 1 item after validation, not 0")
    last = len(messages) - 1
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid(f"messages.{i}: Input should be a valid dictionary")
        for key in message:
            if key not in (SYSTEM_MESSAGE_KEYS if message.get("role") == "system" else MESSAGE_KEYS):
                raise invalid(f"messages.{i}.{key}: Extra inputs are not permitted")
        role = message.get("role")
        if role not in ("user", "assistant", "system"):
            raise invalid(f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'")
        if "content" not in message:
            raise invalid(f"messages.{i}.content: Field required")
        content = message["content"]
        if not isinstance(content, (str, list)):
            raise invalid(f"messages.{i}.content: Input should be a valid string or a list of content blocks")
        if not content and not (role == "assistant" and i == last) and role != "system":
            raise invalid(
                f"messages.{i}: all messages must have non-empty content "
                "except for the optional final assistant message"
            )
        if isinstance(content, list):
            for j, block in enumerate(content):
                check_block(i, j, role, block, version)
    if not has_tools and any(blocks_of(m, "tool_use") or blocks_of(m, "tool_result") for m in messages):
        raise invalid("Requests which include `tool_use` or `tool_result` blocks must define tools.")
    check_tool_pairs(messages)
    check_final_assistant(messages, thinking)


def check_block(i: int, j: int, role: str, block: Any, version: str | None) -> None:
    where = f"messages.{i}.content.{j}"
    if not isinstance(block, dict) or "type" not in block:
        raise invalid(f"{where}: Input should be a valid dictionary with a 'type'")
    kind = block["type"]
    allowed = {"text"} if role == "system" else USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
    if version == SAMPLING_REMOVED_IN and role == "assistant" and kind == "document":
        raise invalid(f"{where}: `document` blocks are not permitted in `assistant` messages")
    if kind not in allowed:
        raise invalid(
            f"{where}.type: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            + ", ".join(f"'{t}'" for t in sorted(allowed))
        )
    if kind == "text":
        if not isinstance(block.get("text"), str):
            raise invalid(f"{where}.text.text: Field required")
        if not block["text"]:
            raise invalid("messages: text content blocks must be non-empty")
        if version == SAMPLING_REMOVED_IN and role == "user" and block.get("citations"):
            raise invalid(f"{where}.text.citations: `citations` are not permitted on text blocks in `user` messages")
    elif kind == "image":
        check_source(f"{where}.image.source", block.get("source"), ("base64", "url", "file"))
        source = block["source"]
        if source["type"] == "base64":
            if source.get("media_type") not in ("image/jpeg", "image/png", "image/gif", "image/webp"):
                raise invalid(
                    f"{where}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
                    "'image/gif' or 'image/webp'"
                )
            check_base64(f"{where}.image.source.base64.data", source.get("data"))
    elif kind == "document":
        check_source(f"{where}.document.source", block.get("source"), ("base64", "text", "url", "content", "file"))
        source = block["source"]
        if source["type"] == "base64":
            if source.get("media_type") != "application/pdf":
                raise invalid(f"{where}.document.source.base64.media_type: Input should be 'application/pdf'")
            check_base64(f"{where}.document.source.base64.data", source.get("data"))
    elif kind == "tool_use":
        for key in ("id", "name", "input"):
            if key not in block:
                raise invalid(f"{where}.tool_use.{key}: Field required")
        if not isinstance(block["id"], str) or not TOOL_ID.fullmatch(block["id"]):
            raise invalid(f"{where}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'")
        if not isinstance(block["input"], dict):
            raise invalid(f"{where}.tool_use.input: Input should be a valid dictionary")
        for key in block:
            if key not in ("type", "id", "name", "input", "cache_control", "caller"):
                raise invalid(f"{where}.tool_use.{key}: Extra inputs are not permitted")
    elif kind == "tool_result":
        if "tool_use_id" not in block:
            raise invalid(f"{where}.tool_result.tool_use_id: Field required")
        if not isinstance(block["tool_use_id"], str) or not TOOL_ID.fullmatch(block["tool_use_id"]):
            raise invalid(f"{where}.tool_result.tool_use_id: String should match pattern '^[a-zA-Z0-9_-]+$'")
    elif kind == "thinking":
        if "signature" not in block:
            raise invalid(f"{where}.thinking.signature: Field required")
        if block["signature"] != sign(str(block.get("thinking", ""))):
            raise invalid(f"{where}: Invalid `signature` in `thinking` block")
    elif kind == "redacted_thinking":
        if "data" not in block:
            raise invalid(f"{where}.redacted_thinking.data: Field required")


def check_source(where: str, source: Any, kinds: tuple[str, ...]) -> None:
    if not isinstance(source, dict):
        raise invalid(f"{where}: Field required")
    if source.get("type") not in kinds:
        raise invalid(
            f"{where}: Input tag '{source.get('type')}' found using 'type' does not match any of the expected "
            "tags: " + ", ".join(f"'{k}'" for k in kinds)
        )
    if source["type"] == "url" and not str(source.get("url", "")).startswith(("http://", "https://")):
        raise invalid(f"{where}.url.url: URL must use http or https")


def check_base64(where: str, data: Any) -> None:
    if not isinstance(data, str) or not data:
        raise invalid(f"{where}: Field required")
    if data.startswith("data:"):
        # The data: URI prefix a gateway forgot to strip.
        raise invalid(f"{where.rsplit('.', 2)[0]}: The image data is not valid base64")
    try:
        base64.b64decode(data, validate=True)
    except ValueError:
        raise invalid(f"{where.rsplit('.', 2)[0]}: The image data is not valid base64") from None


def blocks_of(message: Any, kind: str) -> list[dict[str, Any]]:
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == kind]


def check_tool_pairs(messages: list[Any]) -> None:
    """Each tool_use must be answered by a tool_result in the next message, and each tool_result must
    answer a tool_use of the previous message (the wording is Anthropic's)."""

    def neighbour(i: int, step: int) -> dict[str, Any]:
        # Role "system" turns sit between turns without breaking a tool_use/tool_result pair.
        i += step
        while 0 <= i < len(messages) and messages[i].get("role") == "system":
            i += step
        return messages[i] if 0 <= i < len(messages) else {}

    for i, message in enumerate(messages):
        if message.get("role") == "user":
            previous = neighbour(i, -1)
            offered = (
                {b.get("id") for b in blocks_of(previous, "tool_use")} if previous.get("role") == "assistant" else set()
            )
            content = message.get("content") if isinstance(message.get("content"), list) else []
            for j, block in enumerate(content):
                if block.get("type") == "tool_result" and block.get("tool_use_id") not in offered:
                    raise invalid(
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding "
                        "`tool_use` block in the previous message."
                    )
        elif message.get("role") == "assistant":
            ids = [b.get("id") for b in blocks_of(message, "tool_use")]
            if not ids:
                continue
            following = neighbour(i, 1)
            answered = (
                {b.get("tool_use_id") for b in blocks_of(following, "tool_result")}
                if following.get("role") == "user"
                else set()
            )
            missing = [tool_id for tool_id in ids if tool_id not in answered]
            if missing:
                raise invalid(
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(str(m) for m in missing)}. Each `tool_use` block must have a corresponding "
                    "`tool_result` block in the next message."
                )


def check_final_assistant(messages: list[Any], thinking: str | None) -> None:
    """Thinking's rules for the last assistant turn: with thinking on, the assistant turn that opened
    the current tool loop must start with a (redacted) thinking block; with it off, a final assistant
    turn may not contain one."""
    turns = [(i, m) for i, m in enumerate(messages) if m.get("role") != "system"]
    if not turns:
        return
    last = turns[-1][1]
    # Only manual thinking ("enabled") demands it: with "adaptive" Claude may skip thinking on a turn.
    if thinking == "enabled" and last.get("role") == "user" and blocks_of(last, "tool_result") and len(turns) > 1:
        i, assistant = turns[-2]
        content = assistant.get("content")
        first = content[0] if isinstance(content, list) and content else {"type": "text"}
        if first.get("type") not in ("thinking", "redacted_thinking"):
            raise invalid(
                f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                f"`{first.get('type')}`. When `thinking` is enabled, a final `assistant` message must start with a "
                "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend "
                "you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. "
                "Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
            )
    if thinking in (None, "disabled") and last.get("role") == "assistant":
        content = last.get("content") if isinstance(last.get("content"), list) else []
        for j, block in enumerate(content):
            if block.get("type") in ("thinking", "redacted_thinking"):
                raise invalid(
                    f"messages.{turns[-1][0]}.content.{j}: When thinking is disabled, an `assistant` message "
                    "in the final position cannot contain `thinking`. To use thinking blocks, enable `thinking` "
                    "in your request."
                )
