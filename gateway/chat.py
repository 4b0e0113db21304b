"""OpenAI's chat requests as the gateway takes them: validated for shape, passed through untouched.

Every field the gateway does not own goes to the upstream as it came, known or not, so a new
OpenAI parameter works the day it exists. What is checked is only what would otherwise fail
later, or fail obscurely: the messages' shape (roles, content parts, an assistant's tool calls, a
tool result's `tool_call_id`), the tools' names, and text a database can store. A bad shape is a
422 naming the field.

For the record, large binary parts (`data:` images, audio, files) are not kept: each becomes its
type, size and SHA-256 (`for_record`); a conversation continued later gets a text note in their
place (`replayable`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

from gateway.errors import Invalid
from gateway.llm import text_of

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
BINARY_KEEP_CHARS = 256  # a data URI or base64 longer than this is not stored, only described


def check_strings(value: Any, where: str) -> None:
    """Text a database and the upstream's JSON can hold: no unpaired surrogate, anywhere."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise Invalid(f"{where} must be valid Unicode text (it holds an unpaired surrogate)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_strings(item, f"{where}[{index}]")


def an_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be an object")
    return value


def a_string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{where} must be a string")
    return value


def _part(part: Any, where: str) -> None:
    part = an_object(part, where)
    kind = part.get("type")
    if not isinstance(kind, str) or not kind:
        raise Invalid(f"{where}.type must be a string")
    if part.get(kind) is None:  # OpenAI's convention, so that new kinds of part pass too
        raise Invalid(f"{where}: a part of type {kind!r} must carry {kind!r}")
    if kind in ("text", "refusal"):
        a_string(part[kind], f"{where}.{kind}")
    elif kind == "image_url":
        a_string(an_object(part["image_url"], f"{where}.image_url").get("url"), f"{where}.image_url.url")
    elif kind == "input_audio":
        audio = an_object(part["input_audio"], f"{where}.input_audio")
        a_string(audio.get("data"), f"{where}.input_audio.data")
        a_string(audio.get("format"), f"{where}.input_audio.format")
    elif kind == "file":
        file = an_object(part["file"], f"{where}.file")
        if not any(isinstance(file.get(name), str) for name in ("file_data", "file_id", "filename")):
            raise Invalid(f"{where}.file must carry file_data, file_id or filename")


def _content(content: Any, where: str, required: bool) -> None:
    if content is None:
        if required:
            raise Invalid(f"{where} is required")
        return
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise Invalid(f"{where} must be a string or a list of content parts")
    for index, part in enumerate(content):
        _part(part, f"{where}[{index}]")


def _tool_calls(calls: Any, where: str) -> None:
    if not isinstance(calls, list):
        raise Invalid(f"{where} must be a list")
    for index, call in enumerate(calls):
        at = f"{where}[{index}]"
        call = an_object(call, at)
        a_string(call.get("id"), f"{at}.id")
        if call.get("type", "function") == "function":
            function = an_object(call.get("function"), f"{at}.function")
            a_string(function.get("name"), f"{at}.function.name")
            a_string(function.get("arguments"), f"{at}.function.arguments")


def check_messages(messages: Any, max_chars: int) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise Invalid("messages must be a non-empty list")
    total = 0
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        message = an_object(message, where)
        role = message.get("role")
        if role not in ROLES:
            raise Invalid(f"{where}.role must be one of {', '.join(ROLES)}")
        if "name" in message and message["name"] is not None:
            a_string(message["name"], f"{where}.name")
        if role == "assistant":
            has_calls = message.get("tool_calls") is not None or message.get("function_call") is not None
            if message.get("tool_calls") is not None:
                _tool_calls(message["tool_calls"], f"{where}.tool_calls")
            _content(message.get("content"), f"{where}.content", required=not has_calls)
        else:
            _content(message.get("content"), f"{where}.content", required=True)
        if role == "tool":
            a_string(message.get("tool_call_id"), f"{where}.tool_call_id")
        total += len(text_of(message.get("content")))
    if total > max_chars:
        raise Invalid(f"messages are longer than {max_chars} characters of text in all")
    check_strings(messages, "messages")
    return messages


def check_tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise Invalid("tools must be a list")
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        tool = an_object(tool, where)
        kind = tool.get("type", "function")
        if kind != "function":
            continue  # another kind of tool goes to the upstream as it is
        function = an_object(tool.get("function"), f"{where}.function")
        name = function.get("name")
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            raise Invalid(f"{where}.function.name must be 1 to 64 letters, digits, _ or -")
        if function.get("parameters") is not None:
            an_object(function["parameters"], f"{where}.function.parameters")
    check_strings(tools, "tools")
    return tools


def prompt_of(messages: list[dict[str, Any]]) -> str:
    """The record's prompt: the last user message's text, or else the last message's."""
    for message in reversed(messages):
        if message.get("role") == "user" and text_of(message.get("content")).strip():
            return text_of(message.get("content"))
    return text_of(messages[-1].get("content"))


def system_of(messages: list[dict[str, Any]]) -> str | None:
    for message in messages:
        if message.get("role") in ("system", "developer"):
            return text_of(message.get("content"))
    return None


def _described(data: str, media_type: str) -> dict[str, Any]:
    """What the record keeps of a large binary value: its type, size and SHA-256."""
    encoded = data.split(",", 1)[1] if data.startswith("data:") and "," in data else data
    try:
        raw = base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        raw = data.encode()
    return {"omitted": True, "media_type": media_type, "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def _media_type(data_uri: str, fallback: str) -> str:
    head = data_uri[5:].split(",", 1)[0] if data_uri.startswith("data:") else ""
    return head.split(";", 1)[0] or fallback


def _record_part(part: Any) -> Any:
    if not isinstance(part, dict):
        return part
    kind = part.get("type")
    if kind == "image_url" and isinstance(part.get("image_url"), dict):
        url = part["image_url"].get("url")
        if isinstance(url, str) and url.startswith("data:") and len(url) > BINARY_KEEP_CHARS:
            return {**part, "image_url": {**part["image_url"], "url": _described(url, _media_type(url, "image"))}}
    if kind == "input_audio" and isinstance(part.get("input_audio"), dict):
        data = part["input_audio"].get("data")
        if isinstance(data, str) and len(data) > BINARY_KEEP_CHARS:
            audio_type = f"audio/{part['input_audio'].get('format', 'unknown')}"
            return {**part, "input_audio": {**part["input_audio"], "data": _described(data, audio_type)}}
    if kind == "file" and isinstance(part.get("file"), dict):
        data = part["file"].get("file_data")
        if isinstance(data, str) and len(data) > BINARY_KEEP_CHARS:
            media = _media_type(data, "application/octet-stream")
            return {**part, "file": {**part["file"], "file_data": _described(data, media)}}
    return part


def for_record(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as the record keeps them: large binary parts described, not stored."""
    kept = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            message = {**message, "content": [_record_part(part) for part in content]}
        kept.append(message)
    return kept


def _note(value: Any) -> str | None:
    """The text note that stands in for a part whose data the record did not keep."""
    if isinstance(value, dict) and value.get("omitted"):
        return f"[{value.get('media_type')}: {value.get('bytes')} bytes, sha256 {value.get('sha256')}, not kept]"
    return None


def replayable(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message as the upstream accepts it again: parts whose data was not kept become a
    text note."""
    content = message.get("content")
    if not isinstance(content, list):
        return message
    parts = []
    for part in content:
        inner = part.get(part.get("type")) if isinstance(part, dict) else None
        data = inner.get("url") or inner.get("data") or inner.get("file_data") if isinstance(inner, dict) else None
        note = _note(data)
        parts.append({"type": "text", "text": note} if note else part)
    return {**message, "content": parts}


def call_note(call: dict[str, Any]) -> str:
    """A tool call told as text, for an upstream that will see no result of it."""
    function = call.get("function") or {}
    return f"[called {function.get('name')} with {function.get('arguments')}]"


def tool_text(tool_calls: list[dict[str, Any]] | None) -> str:
    """What search reads of the tool calls: each one's name and arguments."""
    if not tool_calls:
        return ""
    return "\n".join(
        f"{call.get('function', {}).get('name', '')} {call.get('function', {}).get('arguments', '')}"
        for call in tool_calls
    )


def dumps(value: Any) -> str | None:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) if value else None
