"""OpenAI's chat requests as the gateway takes them: validated for shape, passed through untouched.

Every field the gateway does not own goes to the upstream as it came, known or not, so a new
OpenAI parameter works the day it exists. What is checked is only what would otherwise fail
later, or fail obscurely: the messages' shape (roles, content parts, an assistant's tool calls, a
tool result's `tool_call_id`), the tools' names, and text a database can store. A bad shape is a
422 naming the field.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.errors import Invalid
from gateway.inputs import a_string, an_object, check_strings
from gateway.upstreams.llm import text_of

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


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
