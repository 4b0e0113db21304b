"""Chat-completions requests as Gemini's `generateContent` bodies (AI Studio's and Vertex's alike). Pure.

Gemini refuses a field it does not know (400 "Unknown name"), so the body is built from an
allow-list: what has a Gemini equivalent is translated, and the names of the options that have
none are returned beside the body, for the caller to tell its client. Schemas go as JSON Schema
(`parametersJsonSchema`, `responseJsonSchema`), as the client wrote them, not converted to Gemini's
OpenAPI subset. The messages are contents.py's.

    max_completion_tokens | max_tokens -> generationConfig.maxOutputTokens
    temperature, top_p, top_k, seed, presence_penalty, frequency_penalty -> generationConfig
    stop -> stopSequences                     n -> candidateCount (1 only: the gateway reads one)
    response_format json_schema -> responseMimeType application/json + responseJsonSchema
    response_format json_object -> responseMimeType application/json
    reasoning_effort -> thinkingConfig: thinkingLevel (Gemini 3) or thinkingBudget (2.5), with
                        includeThoughts, so the thoughts' summaries stream as reasoning
    tools (functions) -> functionDeclarations  web_search_options -> the googleSearch tool
    tool_choice auto | none | required | {function} -> functionCallingConfig AUTO | NONE | ANY (+ its name)
"""

from __future__ import annotations

from typing import Any

from gateway.upstreams.gemini.contents import to_contents
from gateway.upstreams.gemini.terms import BUDGETS, LEVELS, thinks_by_level
from gateway.upstreams.llm import Completion

READ = frozenset(
    {
        "max_completion_tokens",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "stop",
        "n",
        "response_format",
        "reasoning_effort",
        "tools",
        "tool_choice",
        "web_search_options",
        "stream",
        "stream_options",
    }
)
SAMPLING = {"temperature": "temperature", "top_p": "topP", "top_k": "topK", "seed": "seed",
            "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty"}  # fmt: skip


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _declarations(tools: Any, left_out: list[str]) -> list[dict[str, Any]]:
    declared: list[dict[str, Any]] = []
    for index, tool in enumerate(tools if isinstance(tools, list) else ()):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type", "function") != "function":
            left_out.append(f"tools[{index}]")
            continue
        declaration: dict[str, Any] = {"name": function.get("name")}
        if isinstance(function.get("description"), str):
            declaration["description"] = function["description"]
        if isinstance(function.get("parameters"), dict) and function["parameters"]:
            declaration["parametersJsonSchema"] = function["parameters"]
        if function.get("strict") is not None and "tools[].function.strict" not in left_out:
            left_out.append("tools[].function.strict")
        declared.append(declaration)
    return declared


def _calling(choice: Any, left_out: list[str]) -> dict[str, Any] | None:
    if choice in ("auto", "none", "required"):
        return {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"mode": "ANY", "allowedFunctionNames": [choice["function"].get("name")]}
    if choice is not None:
        left_out.append("tool_choice")
    return None


def _thinking(effort: Any, model: str, left_out: list[str]) -> dict[str, Any] | None:
    if effort is None:
        return None
    if not isinstance(effort, str) or effort not in LEVELS:
        left_out.append("reasoning_effort")
        return None
    if thinks_by_level(model):
        return {"thinkingLevel": LEVELS[effort], "includeThoughts": effort != "none"}
    return {"thinkingBudget": BUDGETS[effort], "includeThoughts": effort != "none"}


def to_gemini(completion: Completion) -> tuple[dict[str, Any], list[str]]:
    """The generateContent body for a chat completion, and the options left out of it."""
    options = completion.options
    left_out = [name for name in options if name not in READ]
    system, contents = to_contents(completion.messages, completion.model)
    body: dict[str, Any] = {"contents": contents}
    if system is not None:
        body["systemInstruction"] = system
    config: dict[str, Any] = {}
    limit = options.get("max_completion_tokens", options.get("max_tokens"))
    if isinstance(limit, int) and not isinstance(limit, bool):
        config["maxOutputTokens"] = limit
    for name, gemini in SAMPLING.items():
        if _number(options.get(name)):
            config[gemini] = options[name]
    stop = options.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    if stops:
        config["stopSequences"] = [s for s in stops if isinstance(s, str)]
    if options.get("n") not in (None, 1):
        left_out.append("n")
    response_format = options.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    described = response_format.get("json_schema") if isinstance(response_format, dict) else None
    if kind == "json_schema" and isinstance(described, dict) and isinstance(described.get("schema"), dict):
        config.update(responseMimeType="application/json", responseJsonSchema=described["schema"])
    elif kind == "json_object":
        config["responseMimeType"] = "application/json"
    elif response_format is not None and kind != "text":
        left_out.append("response_format")
    thinking = _thinking(options.get("reasoning_effort"), completion.model, left_out)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    if config:
        body["generationConfig"] = config
    tools: list[dict[str, Any]] = []
    declared = _declarations(options.get("tools"), left_out)
    if declared:
        tools.append({"functionDeclarations": declared})
    if options.get("web_search_options") is not None:
        tools.append({"googleSearch": {}})
    if tools:
        body["tools"] = tools
    calling = _calling(options.get("tool_choice"), left_out)
    if calling is not None and declared:
        body["toolConfig"] = {"functionCallingConfig": calling}
    elif options.get("tool_choice") is not None and "tool_choice" not in left_out:
        left_out.append("tool_choice")
    return body, left_out
