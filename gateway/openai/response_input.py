"""OpenAI's Responses requests, read: what `POST /v1/responses` takes, turned into the chat-completions
request any upstream speaks.

`input` (text, or a list of items: messages with `input_text`/`input_image`/`input_file` parts,
`function_call` and `function_call_output` items) becomes chat messages; function tools and
`tool_choice` take chat's shape; `max_output_tokens`, `text.format`, `reasoning.effort` and
`top_logprobs` take their chat names; the parameters both APIs share pass as they came. What
chat-completions cannot do (built-in tools such as web search, stored prompts, OpenAI's
conversations) is refused with a 422 naming the field, and so is an unknown field, as OpenAI
refuses one. Every field is declared once (`response_fields`), for the parser and the OpenAPI
description alike.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from gateway.errors import Invalid
from gateway.inputs import (
    MAX_MODEL_CHARS,
    MAX_TOKENS,
    Field,
    a_string,
    an_object,
    check_strings,
    integer,
    number,
    parse_fields,
    text,
)
from gateway.openai import chat

# Passed to the upstream as they came: chat-completions takes them by the same name.
SHARED = ("temperature", "top_p", "parallel_tool_calls", "user", "safety_identifier", "prompt_cache_key",
          "service_tier", "prompt_cache_retention")  # fmt: skip
UNSUPPORTED = {
    "conversation": "OpenAI's conversations are not kept here: chain responses with previous_response_id",
    "prompt": "stored prompt templates are not supported",
    "context_management": "context management is not supported",
}
ROLES = ("user", "system", "developer", "assistant")


def _part(part: Any, where: str) -> dict[str, Any]:
    """A Responses content part as chat-completions' part."""
    part = an_object(part, where)
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": a_string(part.get("text"), f"{where}.text")}
    if kind == "refusal":
        return {"type": "text", "text": a_string(part.get("refusal"), f"{where}.refusal")}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str):
            raise Invalid(f"{where}.image_url must be a URL or a data: URI (file_id is not supported)")
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
        audio = an_object(part.get("input_audio"), f"{where}.input_audio")
        return {"type": "input_audio", "input_audio": audio}
    raise Invalid(f"{where}.type {kind!r} is not a content part this gateway takes")


def _content(content: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise Invalid(f"{where} must be a string or a list of content parts")
    return [_part(part, f"{where}[{index}]") for index, part in enumerate(content)]


def _output(output: Any, where: str) -> str | list[dict[str, Any]]:
    """A function call's output: text, or content parts."""
    if isinstance(output, str):
        return output
    return _content(output, where)


def to_messages(value: Any) -> list[dict[str, Any]]:
    """`input` as chat messages: consecutive function calls become one assistant message."""
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
            messages.append({"role": role, "content": _content(item.get("content"), f"{where}.content")})
        elif kind == "function_call":
            call = {
                "id": a_string(item.get("call_id"), f"{where}.call_id"),
                "type": "function",
                "function": {
                    "name": a_string(item.get("name"), f"{where}.name"),
                    "arguments": a_string(item.get("arguments"), f"{where}.arguments"),
                },
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and last.get("tool_calls") and not last["content"]:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": a_string(item.get("call_id"), f"{where}.call_id"),
                    "content": _output(item.get("output"), f"{where}.output"),
                }
            )
        elif kind == "reasoning":
            continue  # a reasoning model's summary: chat-completions has no place for it
        else:
            raise Invalid(f"{where}.type {kind!r} is not an input item this gateway takes")
    return messages


def to_chat_tools(tools: Any) -> list[dict[str, Any]]:
    """Responses' function tools (flat) as chat-completions' (nested under `function`)."""
    if not isinstance(tools, list):
        raise Invalid("tools must be a list")
    converted = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        tool = an_object(tool, where)
        if tool.get("type") != "function":
            raise Invalid(f"{where}.type {tool.get('type')!r}: only function tools reach a chat-completions upstream")
        function = {name: tool[name] for name in ("name", "description", "parameters", "strict") if name in tool}
        converted.append({"type": "function", "function": function})
    return chat.check_tools(converted)


def to_tool_choice(value: Any) -> Any:
    if value in ("auto", "none", "required"):
        return value
    if isinstance(value, dict) and value.get("type") == "function" and isinstance(value.get("name"), str):
        return {"type": "function", "function": {"name": value["name"]}}
    raise Invalid("tool_choice must be auto, none, required or {type: function, name}")


def to_response_format(value: Any) -> dict[str, Any] | None:
    """`text.format` as chat-completions' `response_format` (None: plain text)."""
    text_config = an_object(value, "text")
    fmt = text_config.get("format")
    if fmt is None:
        return None
    fmt = an_object(fmt, "text.format")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = an_object(fmt.get("schema"), "text.format.schema")
        described: dict[str, Any] = {"name": a_string(fmt.get("name"), "text.format.name"), "schema": schema}
        for name in ("strict", "description"):
            if name in fmt:
                described[name] = fmt[name]
        return {"type": "json_schema", "json_schema": described}
    raise Invalid("text.format.type must be text, json_object or json_schema")


def _effort(value: Any) -> Any:
    reasoning = an_object(value, "reasoning")
    return reasoning.get("effort")


def _boolean(name: str, default: bool) -> Field:
    def parse(value: Any) -> bool:
        if not isinstance(value, bool):
            raise Invalid(f"{name} must be true or false")
        return value

    return Field(name, parse, {"type": "boolean", "default": default}, default=default)


def _passed(name: str, schema: dict[str, Any]) -> Field:
    return Field(name, lambda value: value, schema)


@functools.cache
def response_fields(max_prompt_chars: int) -> tuple[Field, ...]:
    """Every field `POST /v1/responses` takes; any other is refused."""
    item = {"type": "object", "properties": {"type": {"type": "string"}, "role": {"enum": list(ROLES)}}}
    return (
        Field("input", to_messages, {"anyOf": [{"type": "string"}, {"type": "array", "items": item}]}, required=True),
        text("model", MAX_MODEL_CHARS, non_blank=True),
        text("instructions", max_prompt_chars),
        Field(
            "previous_response_id",
            lambda value: a_string(value, "previous_response_id"),
            {"type": "string", "description": "resp_… of an earlier response of yours"},
        ),
        _boolean("store", True),
        _boolean("stream", False),
        _boolean("background", False),
        Field("tools", to_chat_tools, {"type": "array", "items": {"type": "object"}}),
        Field("tool_choice", to_tool_choice, {"anyOf": [{"enum": ["auto", "none", "required"]}, {"type": "object"}]}),
        Field("text", to_response_format, {"type": "object"}),
        Field("reasoning", _effort, {"type": "object"}),
        integer("max_output_tokens", 1, MAX_TOKENS),
        integer("top_logprobs", 0, 20),
        number("temperature", 0.0, 2.0),
        number("top_p", 0.0, 1.0),
        _boolean("parallel_tool_calls", True),
        _passed("metadata", {"type": "object", "additionalProperties": {"type": "string"}}),
        *(_passed(name, {"type": "string"}) for name in ("user", "safety_identifier", "prompt_cache_key")),
        *(_passed(name, {"type": "string"}) for name in ("service_tier", "prompt_cache_retention", "truncation")),
        _passed("include", {"type": "array", "items": {"type": "string"}}),
        _passed("stream_options", {"type": "object"}),
        integer("max_tool_calls", 1, 1000),
    )


@dataclass(frozen=True)
class ResponseRequest:
    """A Responses request, read: this turn's messages and what goes with them."""

    messages: list[dict[str, Any]]  # this turn's input, as chat messages (no instructions, no earlier turns)
    model: str | None
    instructions: str | None
    previous_response_id: str | None
    store: bool
    stream: bool
    background: bool
    options: dict[str, Any]  # the chat-completions request's other fields
    params: dict[str, Any]  # every field but input, instructions and tools, as it came: the record keeps them
    tools: list[dict[str, Any]] | None  # as the client gave them (Responses' shape)


def read_request(body: Any, max_prompt_chars: int) -> ResponseRequest:
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    for name, reason in UNSUPPORTED.items():
        if body.get(name) is not None:
            raise Invalid(f"{name}: {reason}")
    fields = parse_fields(response_fields(max_prompt_chars), body, frozenset(UNSUPPORTED))
    for name, value in body.items():
        check_strings(value, name)
    messages: list[dict[str, Any]] = fields["input"]
    chat.check_messages(messages, max_prompt_chars)
    options: dict[str, Any] = {name: body[name] for name in SHARED if body.get(name) is not None}
    if fields["tools"]:
        options["tools"] = fields["tools"]
    if fields["tool_choice"] is not None:
        options["tool_choice"] = fields["tool_choice"]
    if fields["text"] is not None:
        options["response_format"] = fields["text"]
    if fields["reasoning"] is not None:
        options["reasoning_effort"] = fields["reasoning"]
    if fields["max_output_tokens"] is not None:
        options["max_completion_tokens"] = fields["max_output_tokens"]
    if fields["top_logprobs"]:
        options.update(logprobs=True, top_logprobs=fields["top_logprobs"])
    if fields["background"] and not fields["store"]:
        raise Invalid("background: a background response must be stored (store: true)")
    params = {name: value for name, value in body.items() if name not in ("input", "instructions", "tools")}
    return ResponseRequest(
        messages=messages,
        model=fields["model"],
        instructions=fields["instructions"],
        previous_response_id=fields["previous_response_id"],
        store=fields["store"],
        stream=fields["stream"],
        background=fields["background"],
        options=options,
        params=params,
        tools=body.get("tools") or None,
    )
