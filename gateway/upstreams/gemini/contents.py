"""Chat messages as Gemini's `contents` and `systemInstruction`. Pure.

System and developer messages are the system instruction, one text part each. Gemini knows two
roles: `user` (a user's text, images, audio and files, and the results of function calls) and
`model` (an assistant's text and its function calls, `args` parsed from the call's JSON arguments,
each with the thought signature its id carries, terms.py). A tool message is a `functionResponse`
part, named after the call it answers (found by its id among the earlier calls), its response the
result's JSON object, or `{"result": text}`; contents of one role in a row are one content, as
Gemini wants them to alternate. An image is `inlineData` when it is a data: URI, else `fileData`
at its URL; `reasoning_content` cannot go back (Gemini's thoughts are never sent to it) and is
left out; an assistant message with nothing left is dropped (Gemini refuses empty parts).

In the current turn (the contents after the last user content that is not only function
results, which is what Gemini checks), the first call of each model step that carries no
signature is given the documented stand-in, so a conversation begun on another model (or a call
whose id was changed) goes on with Gemini 3 rather than being refused.
"""

from __future__ import annotations

import mimetypes
from typing import Any

import orjson

from gateway.errors import Invalid
from gateway.upstreams.gemini.terms import SKIP_SIGNATURE, signature_of, thinks_by_level
from gateway.upstreams.llm import text_of


def _data_uri(url: str, where: str) -> dict[str, Any]:
    header, comma, data = url[5:].partition(",")
    media, *params = header.split(";")
    if not comma or "base64" not in params or not media:
        raise Invalid(f"{where}: a data: URI must be base64 with its type (data:<type>;base64,<data>)")
    return {"inlineData": {"mimeType": media.strip().lower(), "data": data}}


def _file_uri(url: str, fallback: str) -> dict[str, Any]:
    media = mimetypes.guess_type(url.split("?", 1)[0])[0] or fallback
    return {"fileData": {"mimeType": media, "fileUri": url}}


def _part(part: Any, where: str) -> dict[str, Any] | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("text", "input_text", "refusal"):
        text = part.get("text", part.get("refusal"))
        return {"text": text} if isinstance(text, str) and text else None
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str):
            raise Invalid(f"{where}.image_url.url must be a string")
        if url.startswith("data:"):
            return _data_uri(url, f"{where}.image_url.url")
        if url.startswith(("https://", "http://", "gs://")):
            return _file_uri(url, "image/jpeg")
        raise Invalid(f"{where}.image_url.url must be an http(s) or gs:// URL or a data: URI")
    if kind == "input_audio":
        audio = part.get("input_audio") if isinstance(part.get("input_audio"), dict) else {}
        if not isinstance(audio.get("data"), str):
            raise Invalid(f"{where}.input_audio.data must be base64")
        return {"inlineData": {"mimeType": f"audio/{audio.get('format') or 'wav'}", "data": audio["data"]}}
    if kind == "file":
        file = part.get("file") if isinstance(part.get("file"), dict) else {}
        data, named = file.get("file_data"), file.get("file_id")
        if isinstance(data, str):
            return _data_uri(data, f"{where}.file.file_data") if data.startswith("data:") else _pdf(data)
        if isinstance(named, str) and named.startswith(("https://", "gs://", "files/")):
            return _file_uri(named, "application/pdf")
        raise Invalid(f"{where}.file: Gemini takes a file's data (file_data) or its Google URI, not an OpenAI file id")
    raise Invalid(f"{where}: a part of type {kind!r} cannot go to Gemini")


def _pdf(data: str) -> dict[str, Any]:
    return {"inlineData": {"mimeType": "application/pdf", "data": data}}


def _parts(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        return []
    found = (_part(part, f"{where}.content[{index}]") for index, part in enumerate(content))
    return [part for part in found if part is not None]


def _arguments(call: dict[str, Any], where: str) -> dict[str, Any]:
    function = call.get("function")
    given = function.get("arguments") if isinstance(function, dict) else None
    if isinstance(given, dict):
        return given
    try:
        parsed = orjson.loads(given) if isinstance(given, str) and given.strip() else {}
    except ValueError:
        raise Invalid(f"{where}.function.arguments is not JSON") from None
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _model(message: dict[str, Any], where: str, names: dict[str, str]) -> list[dict[str, Any]]:
    parts = _parts(message.get("content"), where)
    calls = message.get("tool_calls")
    for index, call in enumerate(calls if isinstance(calls, list) else ()):
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(call.get("id"), str) and isinstance(name, str):
            names[call["id"]] = name
        arguments = _arguments(call, f"{where}.tool_calls[{index}]")
        part: dict[str, Any] = {"functionCall": {"name": name, "args": arguments}}
        signature = signature_of(call)
        if signature is not None:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _result(message: dict[str, Any], names: dict[str, str], where: str) -> dict[str, Any]:
    identifier = message.get("tool_call_id")
    name = message.get("name") if message.get("role") == "function" else names.get(str(identifier))
    if not isinstance(name, str) or not name:
        raise Invalid(f"{where}.tool_call_id {identifier!r} answers no earlier tool call")
    text = text_of(message.get("content"))
    try:
        parsed = orjson.loads(text) if text.startswith("{") else None
    except ValueError:
        parsed = None
    response = parsed if isinstance(parsed, dict) else {"result": text}
    return {"functionResponse": {"name": name, "response": response}}


def to_contents(messages: list[dict[str, Any]], model: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The system instruction (None without one) and the contents of some chat messages."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # a call's id: its function's name
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        if role in ("system", "developer"):
            system += [{"text": text_of(message.get("content"))}] if text_of(message.get("content")) else []
            continue
        if role == "assistant":
            said, parts = "model", _model(message, where, names)
        elif role in ("tool", "function"):
            said, parts = "user", [_result(message, names, where)]
        else:
            said, parts = "user", _parts(message.get("content"), where)
        if not parts:
            continue
        if contents and contents[-1]["role"] == said:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": said, "parts": parts})
    if thinks_by_level(model):
        _stand_in(contents)
    return ({"parts": system} if system else None), contents


def _stand_in(contents: list[dict[str, Any]]) -> None:
    """The stand-in signature on each first call of the current turn's steps that has none."""
    start = 0
    for index, content in enumerate(contents):
        if content["role"] == "user" and any("functionResponse" not in part for part in content["parts"]):
            start = index + 1
    for content in contents[start:]:
        if content["role"] != "model":
            continue
        first = next((part for part in content["parts"] if "functionCall" in part), None)
        if first is not None and "thoughtSignature" not in first:
            first["thoughtSignature"] = SKIP_SIGNATURE
