"""Chat-completions requests as Anthropic Messages requests, for an Anthropic upstream. Pure.

The body is built from an allow-list, because Anthropic refuses any field it does not know (400
"Extra inputs are not permitted", at any depth): what has an Anthropic equivalent is translated,
and the names of the options that have none (or that Anthropic would refuse as given) are
returned beside the body, so that the caller can tell its client. The messages are `turns`'.
`stream` is the caller's to add: it knows whether it streams.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.upstreams.anthropic.terms import BUDGETS, EFFORTS, as_dict
from gateway.upstreams.anthropic.turns import to_messages
from gateway.upstreams.llm import Completion

# Read here, or the caller's (`stream`, `stream_options`): every other option is left out.
READ = frozenset(
    {
        "max_completion_tokens",
        "max_tokens",
        "stop",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning_effort",
        "user",
        "safety_identifier",
        "response_format",
        "web_search_options",
        "n",
        "stream",
        "stream_options",
    }
)
# Anthropic refuses an email or a phone number as metadata.user_id (LiteLLM's check).
_PERSONAL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+|\+?[\d\s().-]{7,}")
# Thinking allows top_p from 0.95 up only, and neither another temperature than 1 nor top_k.
_THINKING_TOP_P = 0.95


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _tools(tools: Any, left_out: list[str]) -> list[dict[str, Any]]:
    """Function tools in Anthropic's flat shape (`strict` has no place: left out)."""
    converted: list[dict[str, Any]] = []
    for index, tool in enumerate(tools if isinstance(tools, list) else ()):
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            left_out.append(f"tools[{index}]")
            continue
        function = as_dict(tool.get("function"))
        schema = function.get("parameters")
        schema = dict(schema) if isinstance(schema, dict) and schema else {"properties": {}}
        schema.setdefault("type", "object")
        anthropic: dict[str, Any] = {"name": function.get("name"), "input_schema": schema}
        if isinstance(function.get("description"), str):
            anthropic["description"] = function["description"]
        marker = tool.get("cache_control", function.get("cache_control"))
        if marker is not None:
            anthropic["cache_control"] = marker
        if function.get("strict") is not None and "tools[].function.strict" not in left_out:
            left_out.append("tools[].function.strict")
        converted.append(anthropic)
    return converted


def _tool_choice(choice: Any, parallel: Any, left_out: list[str]) -> dict[str, Any] | None:
    mapped: dict[str, Any] | None = None
    if choice in ("auto", "none"):
        mapped = {"type": choice}
    elif choice == "required":
        mapped = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        mapped = {"type": "tool", "name": choice["function"].get("name")}
    elif choice is not None:
        left_out.append("tool_choice")
    if parallel is False:  # Anthropic's flag is the inverse, on the tool_choice, and never on none
        mapped = mapped or {"type": "auto"}
        if mapped["type"] != "none":
            mapped["disable_parallel_tool_use"] = True
    return mapped


def _web_search(options: Any) -> dict[str, Any]:
    """OpenAI's web search as Anthropic's server tool; its location is flat there."""
    tool: dict[str, Any] = {"type": "web_search_20250305", "name": "web_search"}
    location = options.get("user_location") if isinstance(options, dict) else None
    if isinstance(location, dict) and isinstance(location.get("approximate"), dict):
        fields = ("city", "country", "region", "timezone")
        tool["user_location"] = {"type": "approximate"} | {
            name: value for name, value in location["approximate"].items() if name in fields
        }
    return tool


def to_anthropic(
    completion: Completion, default_max_tokens: int = 4096, *, adaptive: bool = False, sampling: bool = True
) -> tuple[dict[str, Any], list[str]]:
    """The Messages request for a chat completion, and the options left out of it.

    `max_completion_tokens` (else `max_tokens`, else `default_max_tokens`) is `max_tokens`.
    `reasoning_effort` is a thinking budget (`terms.BUDGETS`), and `max_tokens`, when it was not
    given, is raised above the budget by `default_max_tokens`; with `adaptive` (models from Claude
    4.6, which refuse budgets) it is adaptive thinking and `output_config.effort`. `temperature`
    is capped at 1; with thinking on, a temperature other than 1, a top_p below 0.95 and top_k are
    left out, as Anthropic refuses them; without `sampling` (API version 2026-10-21, the newest
    models) all three are. `stop` is `stop_sequences`, whitespace-only ones left out. Function
    tools and `tool_choice` take Anthropic's shapes, `parallel_tool_calls: false` is
    `disable_parallel_tool_use`, `web_search_options` the web search tool. `safety_identifier`
    (else `user`) is `metadata.user_id` unless it looks like an email or a phone number. A
    `json_schema` response format is `output_config.format`.
    """
    options = completion.options
    left_out = [name for name in options if name not in READ]
    system, messages, named = to_messages(completion.messages)
    if named:
        left_out.append("messages[].name")
    body: dict[str, Any] = {"model": completion.model, "messages": messages}
    if system:
        body["system"] = system
    given = _integer(options.get("max_completion_tokens"))
    given = given if given is not None else _integer(options.get("max_tokens"))
    max_tokens = given if given is not None else default_max_tokens
    output_config: dict[str, Any] = {}
    effort = options.get("reasoning_effort")
    if isinstance(effort, str) and effort in BUDGETS:
        if adaptive:
            body["thinking"] = {"type": "adaptive"}
            output_config["effort"] = EFFORTS[effort]
        else:
            budget = BUDGETS[effort]
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
            if given is None and max_tokens <= budget:
                max_tokens = budget + default_max_tokens
    elif effort is not None and effort != "none":
        left_out.append("reasoning_effort")
    body["max_tokens"] = max_tokens
    _sampling(options, body, left_out, sampling)
    stop = options.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    sequences = [s for s in stops if isinstance(s, str) and s.strip()]
    if len(sequences) < len(stops):
        left_out.append("stop")
    if sequences:
        body["stop_sequences"] = sequences
    tools = _tools(options.get("tools"), left_out)
    if options.get("web_search_options") is not None:
        tools.append(_web_search(options["web_search_options"]))
    if tools:
        body["tools"] = tools
    choice = _tool_choice(options.get("tool_choice"), options.get("parallel_tool_calls"), left_out)
    if choice is not None and tools:
        body["tool_choice"] = choice
    elif options.get("tool_choice") is not None and "tool_choice" not in left_out:
        left_out.append("tool_choice")  # Anthropic takes a tool choice only with tools
    for name in ("safety_identifier", "user"):
        user = options.get(name)
        if isinstance(user, str) and user:
            if _PERSONAL.fullmatch(user.strip()):
                left_out.append(name)
            else:
                body["metadata"] = {"user_id": user}
            break
    response_format = options.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    described = response_format.get("json_schema") if isinstance(response_format, dict) else None
    if kind == "json_schema" and isinstance(described, dict) and isinstance(described.get("schema"), dict):
        output_config["format"] = {"type": "json_schema", "schema": described["schema"]}
    elif response_format is not None and kind != "text":
        left_out.append("response_format")
    if output_config:
        body["output_config"] = output_config
    if options.get("n") not in (None, 1):
        left_out.append("n")
    return body, left_out


def _sampling(options: dict[str, Any], body: dict[str, Any], left_out: list[str], sampling: bool) -> None:
    thinking = "thinking" in body
    temperature, top_p, top_k = (_number(options.get(name)) for name in ("temperature", "top_p", "top_k"))
    if temperature is not None:
        if sampling and not (thinking and temperature != 1):
            body["temperature"] = min(temperature, 1.0)
        else:
            left_out.append("temperature")
    if top_p is not None:
        if sampling and not (thinking and top_p < _THINKING_TOP_P):
            body["top_p"] = top_p
        else:
            left_out.append("top_p")
    if top_k is not None:
        if sampling and not thinking:
            body["top_k"] = int(top_k)
        else:
            left_out.append("top_k")
