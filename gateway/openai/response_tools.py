"""A Responses request's tools as a chat-completions upstream takes them, and what it cannot take.

Function tools take chat's nested shape. A `namespace` (Codex sends its sub-agent tools in one)
is a group of function tools: they go to a chat upstream as plain function tools, by their own
names, or as `<namespace>__<name>` when two namespaces share a name; a call the upstream makes is
told with its namespace again (`namespaced`), as Codex needs it. Custom (freeform) tools become
function tools taking one string, `input`. Tools only an upstream that serves the Responses API
can run (`web_search`, `file_search`, `code_interpreter`, `mcp`, `image_generation`, `tool_search`,
`local_shell`, `computer_use_preview`…, and any type the gateway does not know) are left out, and
named, so the caller can say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.errors import Invalid
from gateway.inputs import a_string, an_object
from gateway.openai import chat

SEPARATOR = "__"


def _function(tool: Mapping[str, Any], where: str, name: str | None = None) -> dict[str, Any]:
    a_string(tool.get("name"), f"{where}.name")
    function = {key: tool[key] for key in ("name", "description", "parameters", "strict") if key in tool}
    if name is not None:
        function["name"] = name
    return {"type": "function", "function": function}


def _custom(tool: Mapping[str, Any], where: str) -> dict[str, Any]:
    name = a_string(tool.get("name"), f"{where}.name")
    described = tool.get("description") if isinstance(tool.get("description"), str) else ""
    parameters = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
    return {"type": "function", "function": {"name": name, "description": described, "parameters": parameters}}


def names_in(tools: list[Any]) -> dict[str, str]:
    """Each namespaced function tool's name, as a chat upstream is given it, by its namespace."""
    seen: dict[str, int] = {}
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == "namespace":
            for inner in tool.get("tools") or ():
                if isinstance(inner, dict) and isinstance(inner.get("name"), str):
                    seen[inner["name"]] = seen.get(inner["name"], 0) + 1
    plain = {tool.get("name") for tool in tools if isinstance(tool, dict) and tool.get("type") == "function"}
    found: dict[str, str] = {}
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") != "namespace" or not isinstance(tool.get("name"), str):
            continue
        for inner in tool.get("tools") or ():
            name = inner.get("name") if isinstance(inner, dict) else None
            if isinstance(name, str):
                clash = seen[name] > 1 or name in plain
                found[f"{tool['name']}{SEPARATOR}{name}" if clash else name] = tool["name"]
    return found


def to_chat_tools(tools: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The tools a chat upstream gets, and the types of those it cannot (left out)."""
    if not isinstance(tools, list):
        raise Invalid("tools must be a list")
    converted: list[dict[str, Any]] = []
    left_out: list[str] = []
    renamed = {(ns, n.removeprefix(ns + SEPARATOR)): n for n, ns in names_in(tools).items()}
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        tool = an_object(tool, where)
        kind = tool.get("type")
        if kind == "function":
            converted.append(_function(tool, where))
        elif kind == "custom":
            converted.append(_custom(tool, where))
        elif kind == "namespace":
            group = a_string(tool.get("name"), f"{where}.name")
            inner = tool.get("tools")
            if not isinstance(inner, list):
                raise Invalid(f"{where}.tools must be a list")
            for position, member in enumerate(inner):
                at = f"{where}.tools[{position}]"
                member = an_object(member, at)
                if member.get("type", "function") == "custom":
                    converted.append(_custom(member, at))
                elif member.get("type", "function") == "function":
                    name = renamed.get((group, str(member.get("name"))))
                    converted.append(_function(member, at, name))
                else:
                    left_out.append(f"tools:{member.get('type')}")
        else:
            left_out.append(f"tools:{kind}")
    return chat.check_tools(converted), left_out


def namespaced(tools: list[Any], name: str) -> tuple[str | None, str]:
    """The namespace and own name of a function a chat upstream called by `name` (None: no namespace)."""
    group = names_in(tools).get(name)
    if group is None:
        return None, name
    return group, name.removeprefix(group + SEPARATOR)


def to_tool_choice(value: Any, tools: list[Any]) -> Any:
    """`tool_choice` in chat's shape; a named function inside a namespace by its chat name."""
    if value in ("auto", "none", "required"):
        return value
    if isinstance(value, dict) and value.get("type") in ("function", "custom") and isinstance(value.get("name"), str):
        name = value["name"]
        group = value.get("namespace")
        if isinstance(group, str):
            chat_names = [n for n, ns in names_in(tools).items() if ns == group and n.endswith(name)]
            name = chat_names[0] if chat_names else name
        return {"type": "function", "function": {"name": name}}
    if isinstance(value, dict) and value.get("type") == "allowed_tools":
        mode = value.get("mode", "auto")
        return "required" if mode == "required" else "auto"
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return "auto"  # a hosted tool's choice: that tool is left out for a chat upstream
    raise Invalid("tool_choice must be auto, none, required or {type: function, name}")
