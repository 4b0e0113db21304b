"""OpenAI's Responses requests, read: what `POST /v1/responses` takes, and the chat-completions
request any upstream speaks made from it.

The gateway reads the fields it acts on (the list in `response_fields`) and refuses a malformed
value of one of them (422, naming it). Every other field, known to OpenAI or not, is never an
error: an upstream that serves the Responses API gets the request as it came, and a chat upstream
what has a chat equivalent (`SHARED` by name, and the mapped ones), the rest being left out and
named (`ResponseRequest.left_out`). The same holds for input items and content parts the gateway
does not know. `input` (text, or items: messages with `input_text`/`input_image`/`input_file`
parts, `function_call` and `function_call_output`, `custom_tool_call` and its output) becomes chat
messages; `reasoning` items are an upstream's own and are left out for a chat upstream; Codex's
`additional_tools` items add their tools; `item_reference`s are resolved from the store before
this (responses.py). docs/api.md lists what is mapped, passed and left out.
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
    check_fields,
    integer,
    number,
    parse_fields,
    text,
)
from gateway.openai import chat
from gateway.openai.response_items import ROLES, to_messages
from gateway.openai.response_tools import to_chat_tools, to_tool_choice

# Passed to a chat upstream as they came: chat-completions takes them by the same name.
SHARED = ("temperature", "top_p", "parallel_tool_calls", "user", "safety_identifier", "prompt_cache_key",
          "service_tier", "prompt_cache_retention")  # fmt: skip
# Read here and mapped (or, like `conversation`, acted on by the gateway itself).
READ = frozenset(("input", "model", "instructions", "previous_response_id", "conversation", "store", "stream",
                  "background", "tools", "tool_choice", "text", "reasoning", "max_output_tokens", "top_logprobs",
                  *SHARED))  # fmt: skip
# Never sent upstream as they came: the gateway does what they ask (a chain, a conversation, a
# response generated in the background).
OWN = ("previous_response_id", "conversation", "background")


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


def _boolean(name: str, default: bool) -> Field:
    def parse(value: Any) -> bool:
        if not isinstance(value, bool):
            raise Invalid(f"{name} must be true or false")
        return value

    return Field(name, parse, {"type": "boolean", "default": default}, default=default)


def _given(value: Any) -> Any:
    """A field read where it is used (input and tool_choice need the tools to be read)."""
    return value


def _list(name: str) -> Field:
    def parse(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise Invalid(f"{name} must be a list")
        return value

    return Field(name, parse, {"type": "array", "items": {"type": "object"}})


def _conversation(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id")
    return a_string(value, "conversation")


@functools.cache
def response_fields(max_prompt_chars: int) -> tuple[Field, ...]:
    """The fields `POST /v1/responses` reads; every other is taken too, and passed or left out."""
    item = {"type": "object", "properties": {"type": {"type": "string"}, "role": {"enum": list(ROLES)}}}
    return (
        Field(
            "input",
            lambda value: value,
            {"anyOf": [{"type": "string"}, {"type": "array", "items": item}]},
            required=True,
        ),
        text("model", MAX_MODEL_CHARS, non_blank=True),
        text("instructions", max_prompt_chars),
        Field(
            "previous_response_id",
            lambda value: a_string(value, "previous_response_id"),
            {"type": "string", "description": "resp_… of an earlier response of yours"},
        ),
        Field(
            "conversation",
            _conversation,
            {"anyOf": [{"type": "string"}, {"type": "object"}], "description": "conv_… of a conversation of yours"},
        ),
        _boolean("store", True),
        _boolean("stream", False),
        _boolean("background", False),
        _list("tools"),
        Field(
            "tool_choice", lambda value: value, {"anyOf": [{"enum": ["auto", "none", "required"]}, {"type": "object"}]}
        ),
        Field("text", to_response_format, {"type": "object"}),
        Field("reasoning", lambda value: an_object(value, "reasoning"), {"type": "object"}),
        integer("max_output_tokens", 1, MAX_TOKENS),
        integer("top_logprobs", 0, 20),
        number("temperature", 0.0, 2.0),
        number("top_p", 0.0, 1.0),
        _boolean("parallel_tool_calls", True),
    )


@dataclass(frozen=True)
class ResponseRequest:
    """A Responses request, read: this turn's messages and what goes with them."""

    messages: list[dict[str, Any]]  # this turn's input, as chat messages (no instructions, no earlier turns)
    model: str | None
    instructions: str | None
    previous_response_id: str | None
    conversation: str | None
    store: bool
    stream: bool
    background: bool
    options: dict[str, Any]  # the chat-completions request's other fields
    params: dict[str, Any]  # every field but input, instructions and tools, as it came: the record keeps them
    tools: list[dict[str, Any]] | None  # as the client gave them (Responses' shape)
    left_out: list[str]  # what a chat upstream is not given: fields, tool types, item and part types


def read_request(body: Any, max_prompt_chars: int) -> ResponseRequest:
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    fields = parse_fields(response_fields(max_prompt_chars), body, strict=False)
    check_fields(body)
    left_out = [name for name in body if name not in READ]
    tools: list[Any] = list(body.get("tools") or [])
    messages = to_messages(fields["input"], left_out, tools)
    if not messages:
        raise Invalid("input holds no message, call or call output")
    chat.check_messages(messages, max_prompt_chars)
    options: dict[str, Any] = {name: body[name] for name in SHARED if body.get(name) is not None}
    if tools:
        chat_tools, hosted = to_chat_tools(tools)
        left_out += hosted
        if chat_tools:
            options["tools"] = chat_tools
    if fields["tool_choice"] is not None:
        choice = to_tool_choice(fields["tool_choice"], tools)
        if "tools" in options:  # a chat upstream refuses a tool_choice without tools
            options["tool_choice"] = choice
        else:
            left_out.append("tool_choice")
    if fields["text"] is not None:
        options["response_format"] = fields["text"]
    given_text = body.get("text")
    if isinstance(given_text, dict) and given_text.get("verbosity") is not None:
        options["verbosity"] = given_text["verbosity"]
    reasoning = fields["reasoning"]
    if reasoning is not None:
        if reasoning.get("effort") is not None:
            options["reasoning_effort"] = reasoning["effort"]
        if reasoning.get("summary") is not None:
            left_out.append("reasoning.summary")
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
        conversation=fields["conversation"],
        store=fields["store"],
        stream=fields["stream"],
        background=fields["background"],
        options=options,
        params=params,
        tools=body.get("tools") or None,
        left_out=sorted(set(left_out), key=left_out.index),
    )
