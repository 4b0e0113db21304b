"""Anthropic's system and messages, read as chat messages, for a chat-completions upstream. Pure.

`system` (a string or text blocks, joined by blank lines) and role "system" turns inside
`messages` (Claude Code sends them, some empty) are system messages where they stood. A user
turn's `tool_result` blocks are one `tool` message each, in order, before the rest of the turn
(`is_error` prefixes the text with "Error: "; their images follow in the next user message, as a
tool message takes only text); images and PDF documents are OpenAI's image and file parts, a text
document a text part. An assistant turn's text is its content, its `tool_use` blocks tool calls
(the input as compact JSON), its thinking `reasoning_content`, and its thinking blocks,
signatures and redacted ones included, LiteLLM's `thinking_blocks`, so that they can go back to
Anthropic unchanged. A block of a type not read here (a server tool's, a search result…) is named
in `left_out`; a malformed block of a type read here is refused (checks.py).
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import Invalid
from gateway.upstreams.anthropic.checks import block_string, block_type, field, items, mapping, string

ROLES = ("user", "assistant", "system")


def system_text(value: Any, where: str) -> str:
    """System text: a string, or text blocks joined by blank lines."""
    if isinstance(value, str):
        return value
    texts = []
    for index, block in enumerate(items(value, where, or_string=True)):
        at = f"{where}.{index}"
        if block_type(block, at) != "text":
            raise Invalid(f"{at}.type: Input should be 'text'")
        texts.append(block_string(block, at, "text", "text"))
    return "\n\n".join(texts)


def _source(block: dict[str, Any], where: str, tag: str) -> tuple[str, dict[str, Any]]:
    source = mapping(field(block, "source", f"{where}.{tag}"), f"{where}.{tag}.source")
    return block_type(source, f"{where}.{tag}.source"), source


def _image(block: dict[str, Any], where: str) -> dict[str, Any]:
    kind, source = _source(block, where, "image")
    at = f"{where}.image.source"
    if kind == "base64":
        media = string(field(source, "media_type", at), f"{at}.media_type")
        data = string(field(source, "data", at), f"{at}.data")
        return {"type": "image_url", "image_url": {"url": f"data:{media};base64,{data}"}}
    if kind == "url":
        return {"type": "image_url", "image_url": {"url": string(field(source, "url", at), f"{at}.url")}}
    raise Invalid(f"{at}.type: an image source of type {kind!r} cannot reach a chat-completions upstream")


def _document(block: dict[str, Any], where: str) -> dict[str, Any]:
    kind, source = _source(block, where, "document")
    at = f"{where}.document.source"
    title = block.get("title")
    titled = isinstance(title, str) and bool(title)
    if kind == "base64":
        media = string(field(source, "media_type", at), f"{at}.media_type")
        data = string(field(source, "data", at), f"{at}.data")
        name = title if titled else "document.pdf"
        return {"type": "file", "file": {"file_data": f"data:{media};base64,{data}", "filename": name}}
    if kind == "text":
        text = string(field(source, "data", at), f"{at}.data")
        return {"type": "text", "text": f"{title}\n\n{text}" if titled else text}
    raise Invalid(f"{at}.type: a document source of type {kind!r} cannot reach a chat-completions upstream")


def _tool_result(block: dict[str, Any], where: str, images: list[dict[str, Any]]) -> dict[str, Any]:
    at = f"{where}.tool_result"
    use_id = string(field(block, "tool_use_id", at), f"{at}.tool_use_id")
    content = block.get("content")
    texts: list[str] = []
    if isinstance(content, str):
        texts.append(content)
    elif content is not None:
        for index, item in enumerate(items(content, f"{at}.content", or_string=True)):
            item_at = f"{at}.content.{index}"
            kind = block_type(item, item_at)
            if kind == "text":
                texts.append(block_string(item, item_at, "text", "text"))
            elif kind == "image":
                images.append(_image(item, item_at))
            elif kind == "document":
                part = _document(item, item_at)
                if part["type"] == "text":
                    texts.append(part["text"])
                else:
                    images.append(part)
    error = block.get("is_error")
    if error is not None and not isinstance(error, bool):
        raise Invalid(f"{at}.is_error: Input should be a valid boolean")
    text = "\n".join(texts)
    return {"role": "tool", "tool_call_id": use_id, "content": f"Error: {text}" if error else text}


def _user(blocks: list[Any], where: str, out: list[dict[str, Any]], left_out: list[str]) -> None:
    parts: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []  # the tool results': they follow the tool messages
    for index, block in enumerate(blocks):
        at = f"{where}.content.{index}"
        kind = block_type(block, at)
        if kind == "text":
            parts.append({"type": "text", "text": block_string(block, at, "text", "text")})
        elif kind == "image":
            parts.append(_image(block, at))
        elif kind == "document":
            parts.append(_document(block, at))
        elif kind == "tool_result":
            out.append(_tool_result(block, at, images))
        else:
            left_out.append(f"{at} ({kind})")
    parts = images + parts
    if len(parts) == 1 and parts[0]["type"] == "text":
        out.append({"role": "user", "content": parts[0]["text"]})
    elif parts:
        out.append({"role": "user", "content": parts})


def _assistant(blocks: list[Any], where: str, out: list[dict[str, Any]], left_out: list[str]) -> None:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    thoughts: list[str] = []
    kept: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        at = f"{where}.content.{index}"
        kind = block_type(block, at)
        if kind == "text":
            texts.append(block_string(block, at, "text", "text"))
        elif kind == "tool_use":
            call_id = block_string(block, at, "tool_use", "id")
            name = block_string(block, at, "tool_use", "name")
            given = mapping(field(block, "input", f"{at}.tool_use"), f"{at}.tool_use.input")
            function = {"name": name, "arguments": orjson.dumps(given).decode()}
            calls.append({"id": call_id, "type": "function", "function": function})
        elif kind == "thinking":
            thought = block_string(block, at, "thinking", "thinking")
            signature = block_string(block, at, "thinking", "signature")
            thoughts.append(thought)
            kept.append({"type": "thinking", "thinking": thought, "signature": signature})
        elif kind == "redacted_thinking":
            kept.append({"type": "redacted_thinking", "data": block_string(block, at, "redacted_thinking", "data")})
        else:
            left_out.append(f"{at} ({kind})")
    # chat takes an assistant message without content only when it has tool calls
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    if kept:
        message["thinking_blocks"] = kept
    out.append(message)


def to_chat_messages(value: Any, left_out: list[str]) -> list[dict[str, Any]]:
    """Anthropic's `messages` as chat messages; what is not read is added to `left_out`."""
    out: list[dict[str, Any]] = []
    for index, message in enumerate(items(value, "messages")):
        at = f"messages.{index}"
        message = mapping(message, at)
        role = field(message, "role", at)
        if role not in ROLES:
            raise Invalid(f"{at}.role: Input should be 'user', 'assistant' or 'system'")
        content = field(message, "content", at)
        if role == "system":
            text = system_text(content, f"{at}.content")
            if text:  # Claude Code sends some empty, to carry their output_config
                out.append({"role": "system", "content": text})
        elif isinstance(content, str):
            out.append({"role": role, "content": content})
        elif role == "user":
            _user(items(content, f"{at}.content", or_string=True), at, out, left_out)
        else:
            _assistant(items(content, f"{at}.content", or_string=True), at, out, left_out)
    return out
