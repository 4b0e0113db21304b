"""Chat messages as a record keeps them: the prompt and system text it shows, the tool calls as
JSON and as text for search, and large binary parts described rather than stored.

Large binary parts (`data:` images, audio, files) are not kept: each becomes its type, size and
SHA-256 (`for_record`); a conversation continued later gets a text note in their place
(`replayable`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from gateway.upstreams.llm import text_of

BINARY_KEEP_CHARS = 256  # a data URI or base64 longer than this is not stored, only described


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
