"""A Responses request's input items as chat messages: messages (their content parts as chat's),
function and custom tool calls and their outputs; the tools an `additional_tools` item carries.
Items and parts chat has no place for (reasoning, an earlier hosted tool's call, anything the
gateway does not know) are left out and named."""

from __future__ import annotations

import json
from typing import Any

from gateway.errors import Invalid
from gateway.inputs import a_string, an_object
from gateway.openai.response_tools import names_in

ROLES = ("user", "system", "developer", "assistant")


def _part(part: Any, where: str, left_out: list[str]) -> dict[str, Any] | None:
    """A Responses content part as chat-completions' part (None: a kind chat has no place for)."""
    part = an_object(part, where)
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": a_string(part.get("text"), f"{where}.text")}
    if kind == "refusal":
        return {"type": "text", "text": a_string(part.get("refusal"), f"{where}.refusal")}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str):
            left_out.append("input_image.file_id")  # a file of OpenAI's: only its own API knows it
            return None
        image: dict[str, Any] = {"url": url}
        if isinstance(part.get("detail"), str):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        file = {name: part[name] for name in ("file_data", "file_id", "filename") if isinstance(part.get(name), str)}
        if not file:
            raise Invalid(f"{where} must carry file_data, file_id or filename")
        return {"type": "file", "file": file}
    if kind == "input_audio":
        return {"type": "input_audio", "input_audio": an_object(part.get("input_audio"), f"{where}.input_audio")}
    left_out.append(f"content:{kind}")
    return None


def _content(content: Any, where: str, left_out: list[str]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise Invalid(f"{where} must be a string or a list of content parts")
    parts = (_part(part, f"{where}[{index}]", left_out) for index, part in enumerate(content))
    return [part for part in parts if part is not None]


def _call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _add_call(messages: list[dict[str, Any]], call: dict[str, Any]) -> None:
    """Consecutive calls are one assistant message, as chat-completions has them."""
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and last.get("tool_calls") and not last["content"]:
        last["tool_calls"].append(call)
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def to_messages(value: Any, left_out: list[str], tools: list[Any]) -> list[dict[str, Any]]:
    """`input` as chat messages; `tools` gains the tools an `additional_tools` item carries."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise Invalid("input must be a string or a non-empty list of items")
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        where = f"input[{index}]"
        item = an_object(item, where)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ROLES:
                raise Invalid(f"{where}.role must be one of {', '.join(ROLES)}")
            messages.append({"role": role, "content": _content(item.get("content"), f"{where}.content", left_out)})
        elif kind in ("function_call", "custom_tool_call"):
            call_id = a_string(item.get("call_id"), f"{where}.call_id")
            name = a_string(item.get("name"), f"{where}.name")
            if kind == "function_call":
                arguments = a_string(item.get("arguments"), f"{where}.arguments")
            else:
                arguments = json.dumps({"input": a_string(item.get("input"), f"{where}.input")})
            if isinstance(item.get("namespace"), str):
                name = _chat_name(tools, item["namespace"], name)
            _add_call(messages, _call(call_id, name, arguments))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output = item.get("output")
            content = output if isinstance(output, str) else _content(output, f"{where}.output", left_out)
            messages.append(
                {"role": "tool", "tool_call_id": a_string(item.get("call_id"), f"{where}.call_id"), "content": content}
            )
        elif kind == "additional_tools":
            tools.extend(tool for tool in item.get("tools") or () if isinstance(tool, dict))
        else:  # reasoning, an earlier hosted tool's call, and any item the gateway does not know
            left_out.append(f"input:{kind}")
    return messages


def _chat_name(tools: list[Any], namespace: str, name: str) -> str:
    """The name a chat upstream knows a namespaced function by."""
    chat_names = [n for n, ns in names_in(tools).items() if ns == namespace and n.endswith(name)]
    return chat_names[0] if chat_names else name
