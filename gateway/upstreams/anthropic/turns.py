"""Chat messages as Anthropic's system blocks and turns, for an Anthropic upstream. Pure.

System and developer messages are hoisted into `system`, one text block a part (its
`cache_control` kept). Tool results (`tool`, legacy `function`) become `tool_result` blocks at the
front of a user turn, and a user message after them joins that turn. An assistant turn is its
signed thinking blocks (LiteLLM's `thinking_blocks`, unchanged), its text, then its tool calls,
and is dropped when nothing is left (`reasoning_content` without a signature cannot go back).
Tool-call ids are made to fit Anthropic's pattern, the same way on both sides (`terms.tool_id`).
`name` is dropped; `cache_control` stays where it was, on a part or (LiteLLM's) on a message's
last block. Content that cannot be carried (an OpenAI file id, audio, an image of a type Anthropic
does not read) is refused (`Invalid`) rather than dropped: the model would answer without it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from gateway.errors import Invalid
from gateway.upstreams.anthropic.terms import as_dict, signed_blocks, tool_id, tool_input

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def _data_uri(url: str, where: str) -> tuple[str, str]:
    """A base64 data URI's media type and data."""
    header, comma, data = url[5:].partition(",")
    media, *params = header.split(";")
    if not comma or "base64" not in params:
        raise Invalid(f"{where}: a data: URI must be base64 (data:<type>;base64,<data>)")
    return media.strip().lower(), data


def _image(url: Any, where: str) -> dict[str, Any]:
    if not isinstance(url, str):
        raise Invalid(f"{where}.image_url.url must be a string")
    if url.startswith("data:"):
        media, data = _data_uri(url, f"{where}.image_url.url")
        if media not in IMAGE_TYPES:
            raise Invalid(f"{where}: Anthropic reads images of type {', '.join(IMAGE_TYPES)}, not {media!r}")
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise Invalid(f"{where}.image_url.url must be an http(s) URL or a data: URI")


def _document(file: Any, where: str) -> dict[str, Any]:
    """A file part as a document: a PDF's base64, or a text file's text."""
    file = file if isinstance(file, dict) else {}
    data = file.get("file_data")
    if not isinstance(data, str):
        raise Invalid(f"{where}.file: Anthropic takes a file's data (file_data), not an OpenAI file id")
    media, data = _data_uri(data, f"{where}.file.file_data") if data.startswith("data:") else ("application/pdf", data)
    if media == "application/pdf":
        document: dict[str, Any] = {"type": "document", "source": {"type": "base64", "media_type": media, "data": data}}
    elif media == "text/plain":
        try:
            text = base64.b64decode(data, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Invalid(f"{where}.file.file_data is not base64 of UTF-8 text") from None
        document = {"type": "document", "source": {"type": "text", "media_type": media, "data": text}}
    else:
        raise Invalid(f"{where}.file: Anthropic reads PDF and plain-text files, not {media!r}")
    if isinstance(file.get("filename"), str) and file["filename"]:
        document["title"] = file["filename"]
    return document


def _blocks(content: Any, where: str, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """A message's content as Anthropic blocks, of the part kinds its role may carry; empty text
    is left out (Anthropic refuses an empty text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for index, part in enumerate(content if isinstance(content, list) else ()):
        at = f"{where}.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in kinds:
            raise Invalid(f"{at}: a part of type {kind!r} cannot go to Anthropic in this message")
        if kind in ("text", "refusal"):
            text = part.get(kind)
            if not isinstance(text, str) or not text:
                continue
            block: dict[str, Any] = {"type": "text", "text": text}
        elif kind == "image_url":
            image = part.get("image_url")
            block = _image(image.get("url") if isinstance(image, dict) else None, at)
        else:
            block = _document(part.get("file"), at)
        if part.get("cache_control") is not None:
            block["cache_control"] = part["cache_control"]
        blocks.append(block)
    return blocks


def _marked(message: dict[str, Any], blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A message's own `cache_control` (LiteLLM's) marks its last block."""
    if blocks and message.get("cache_control") is not None:
        blocks[-1]["cache_control"] = message["cache_control"]
    return blocks


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _assistant(message: dict[str, Any], index: int, where: str) -> list[dict[str, Any]]:
    blocks = signed_blocks(message.get("thinking_blocks"))
    blocks += _marked(message, _blocks(message.get("content"), where, ("text", "refusal")))
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else ():
        call = as_dict(call)
        function = as_dict(call.get("function"))
        arguments = tool_input(function.get("arguments"))
        use_id = tool_id(_text(call.get("id")))
        blocks.append({"type": "tool_use", "id": use_id, "name": function.get("name"), "input": arguments})
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        arguments = tool_input(legacy.get("arguments"))
        blocks.append({"type": "tool_use", "id": f"call_{index}", "name": legacy.get("name"), "input": arguments})
    return blocks


def _result(message: dict[str, Any], use_id: str, where: str) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": use_id}
    content = message.get("content")
    if isinstance(content, list):
        content = _blocks(content, where, ("text", "image_url"))
    if content:
        result["content"] = content
    if message.get("cache_control") is not None:
        result["cache_control"] = message["cache_control"]
    return result


def _to_user(turns: list[dict[str, Any]], blocks: list[dict[str, Any]], results: bool = False) -> None:
    """Blocks added to the last turn when it is the user's, else to a new one; tool results go
    after the turn's other tool results but before anything else, as Anthropic wants them."""
    if not turns or turns[-1]["role"] != "user":
        turns.append({"role": "user", "content": blocks})
        return
    content = turns[-1]["content"]
    if not results:
        content.extend(blocks)
        return
    at = next((i for i, block in enumerate(content) if block["type"] != "tool_result"), len(content))
    content[at:at] = blocks


def to_messages(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """Chat messages (already checked for shape) as Anthropic's system blocks and turns, and
    whether any message had a `name`, which Anthropic has no place for."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    named = False
    function_id = "call_0"  # a legacy function call's id, made up for its result to name
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        named = named or (message.get("name") is not None and role != "function")
        if role in ("system", "developer"):
            system += _marked(message, _blocks(message.get("content"), where, ("text",)))
        elif role == "user":
            kinds = ("text", "image_url", "file")
            blocks = _marked(message, _blocks(message.get("content"), where, kinds))
            if blocks:
                _to_user(turns, blocks)
        elif role == "assistant":
            blocks = _assistant(message, index, where)
            if isinstance(message.get("function_call"), dict):
                function_id = f"call_{index}"
            if blocks:
                turns.append({"role": "assistant", "content": blocks})
        elif role in ("tool", "function"):
            use_id = tool_id(_text(message.get("tool_call_id"))) if role == "tool" else function_id
            _to_user(turns, [_result(message, use_id, where)], results=True)
    for turn in turns:  # a lone text block is sent as the plain string it most often was
        content = turn["content"]
        if turn["role"] == "user" and len(content) == 1 and content[0].keys() == {"type", "text"}:
            turn["content"] = content[0]["text"]
    if not turns:
        raise Invalid("messages: Anthropic needs at least one user or assistant message")
    return system, turns, named
