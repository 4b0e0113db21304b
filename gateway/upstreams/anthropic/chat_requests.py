"""Anthropic Messages requests, read for a chat-completions upstream: what a `/v1/messages` client
sends, as the chat-completions request any upstream speaks. Pure.

What is read is checked, and a malformed value is refused with the path Anthropic would name
(`max_tokens: Field required`, checks.py). A field that is not read is never an error: it is named
in `left_out`, and so are top_k, cache_control, context_management, container, service_tier,
mcp_servers, any field this module does not know, a block of a type it does not read, and a server
tool (web search, bash…), which a chat-completions upstream cannot run. The messages are
`chat_messages`'.

Fields: `max_tokens` is `max_completion_tokens` (0, which only warms Anthropic's cache, is left
out); `stop_sequences` is `stop`; `temperature` and `top_p` pass; `metadata.user_id` is
`safety_identifier` (a digest of it when it is longer than OpenAI takes, as Claude Code's is);
custom tools are function tools; `tool_choice` auto/any/tool/none is auto/required/a function/
none and `disable_parallel_tool_use` is `parallel_tool_calls: false`; thinking's budget is a
`reasoning_effort` (`terms.effort_of`), and `output_config.effort` (adaptive thinking's) is one
as it is; `output_config.format` is a `json_schema` response format.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from gateway.errors import Invalid
from gateway.inputs import check_strings
from gateway.upstreams.anthropic.chat_messages import system_text, to_chat_messages
from gateway.upstreams.anthropic.checks import field, items, mapping, number, string
from gateway.upstreams.anthropic.terms import effort_of
from gateway.upstreams.llm import text_of

READ = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "metadata",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
    }
)
EFFORTS = ("low", "medium", "high", "xhigh", "max")
MAX_IDENTIFIER = 128  # OpenAI's limit on safety_identifier


@dataclass(frozen=True)
class ChatRequest:
    """An Anthropic request, read: its model, the chat messages (the system message first), the
    chat request's other fields, the system text alone, whether it streams, and what was left out."""

    model: str
    messages: list[dict[str, Any]]
    options: dict[str, Any]
    system: str | None
    stream: bool
    left_out: list[str]


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{where}: Input should be a valid integer")
    return value


def _tools(value: Any, left_out: list[str]) -> list[dict[str, Any]]:
    tools = []
    for index, tool in enumerate(items(value, "tools")):
        at = f"tools.{index}"
        tool = mapping(tool, at)
        kind = tool.get("type")
        if kind not in (None, "custom"):
            left_out.append(f"{at} ({tool.get('name') or kind})")
            continue
        name = string(field(tool, "name", f"{at}.custom"), f"{at}.custom.name")
        schema = mapping(field(tool, "input_schema", f"{at}.custom"), f"{at}.custom.input_schema")
        function: dict[str, Any] = {"name": name, "parameters": schema}
        if tool.get("description") is not None:
            function["description"] = string(tool["description"], f"{at}.custom.description")
        if isinstance(tool.get("strict"), bool):
            function["strict"] = tool["strict"]
        tools.append({"type": "function", "function": function})
    return tools


def _tool_choice(value: Any) -> tuple[Any, bool]:
    """The chat tool_choice, and whether parallel calls are off."""
    choice = mapping(value, "tool_choice")
    kind = choice.get("type")
    mapped: Any
    if kind in ("auto", "none"):
        mapped = kind
    elif kind == "any":
        mapped = "required"
    elif kind == "tool":
        name = string(field(choice, "name", "tool_choice.tool"), "tool_choice.tool.name")
        mapped = {"type": "function", "function": {"name": name}}
    else:
        raise Invalid(
            f"tool_choice: Input tag {kind!r} found using 'type' does not match any of the expected tags: "
            "'auto', 'any', 'tool', 'none'"
        )
    serial = choice.get("disable_parallel_tool_use")
    if serial is not None and not isinstance(serial, bool):
        raise Invalid(f"tool_choice.{kind}.disable_parallel_tool_use: Input should be a valid boolean")
    return mapped, serial is True


def _reasoning(body: dict[str, Any], options: dict[str, Any], left_out: list[str]) -> None:
    """thinking and output_config: reasoning_effort and response_format."""
    effort: str | None = None
    thinking = body.get("thinking")
    kind = None
    if thinking is not None:
        thinking = mapping(thinking, "thinking")
        kind = thinking.get("type")
        if kind == "enabled":
            budget = _integer(field(thinking, "budget_tokens", "thinking.enabled"), "thinking.enabled.budget_tokens")
            effort = effort_of(budget)
        elif kind not in ("disabled", "adaptive"):
            raise Invalid(
                f"thinking: Input tag {kind!r} found using 'type' does not match any of the expected tags: "
                "'enabled', 'disabled', 'adaptive'"
            )
    if body.get("output_config") is not None:
        config = mapping(body["output_config"], "output_config")
        if config.get("effort") is not None:
            if config["effort"] not in EFFORTS:
                raise Invalid("output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'")
            effort = config["effort"]
        if config.get("format") is not None:
            fmt = mapping(config["format"], "output_config.format")
            if fmt.get("type") != "json_schema":
                raise Invalid("output_config.format.type: Input should be 'json_schema'")
            schema = mapping(field(fmt, "schema", "output_config.format"), "output_config.format.schema")
            described = {"name": "output", "schema": schema, "strict": True}
            options["response_format"] = {"type": "json_schema", "json_schema": described}
        left_out.extend(f"output_config.{name}" for name in config if name not in ("effort", "format"))
    if effort is not None and kind != "disabled":
        options["reasoning_effort"] = effort


def to_chat(body: dict[str, Any], max_chars: int) -> ChatRequest:
    """An Anthropic Messages request as a chat-completions request; `max_chars` bounds the text of
    the messages and system together."""
    left_out = [name for name in body if name not in READ]
    for name in ("system", "messages", "tools", "stop_sequences", "metadata"):
        check_strings(body.get(name), name)
    model = string(field(body, "model", ""), "model")
    max_tokens = _integer(field(body, "max_tokens", ""), "max_tokens")
    if max_tokens < 0:
        raise Invalid("max_tokens: Input should be greater than or equal to 0")
    messages = to_chat_messages(field(body, "messages", ""), left_out)
    system = system_text(body["system"], "system") if body.get("system") is not None else ""
    if system:
        messages.insert(0, {"role": "system", "content": system})
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise Invalid("stream: Input should be a valid boolean")
    options: dict[str, Any] = {}
    if max_tokens:
        options["max_completion_tokens"] = max_tokens
    else:
        left_out.append("max_tokens")
    if body.get("stop_sequences") is not None:
        given = items(body["stop_sequences"], "stop_sequences")
        stops = [string(stop, f"stop_sequences.{index}") for index, stop in enumerate(given)]
        if stops:
            options["stop"] = stops
    for name in ("temperature", "top_p"):
        value = number(body.get(name), name)
        if value is not None:
            options[name] = value
    if body.get("metadata") is not None:
        user = mapping(body["metadata"], "metadata").get("user_id")
        if user is not None and string(user, "metadata.user_id"):
            too_long = len(user) > MAX_IDENTIFIER
            options["safety_identifier"] = hashlib.sha256(user.encode()).hexdigest() if too_long else user
    tools = _tools(body["tools"], left_out) if body.get("tools") is not None else []
    if tools:
        options["tools"] = tools
    if body.get("tool_choice") is not None:
        choice, serial = _tool_choice(body["tool_choice"])
        if tools:  # chat takes a tool choice only with tools
            options["tool_choice"] = choice
            if serial:
                options["parallel_tool_calls"] = False
        else:
            left_out.append("tool_choice")
    _reasoning(body, options, left_out)
    if sum(len(text_of(message.get("content"))) for message in messages) > max_chars:
        raise Invalid(f"messages: the text of the messages and system is longer than {max_chars} characters")
    return ChatRequest(model, messages, options, system or None, stream is True, left_out)
