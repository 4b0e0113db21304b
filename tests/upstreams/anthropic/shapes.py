"""Anthropic's request shapes, as its SDK's TypedDicts list their keys: Anthropic answers a key it
does not list with 400 "Extra inputs are not permitted", at any depth."""

from __future__ import annotations

from typing import Any

import anthropic.types as types
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming


def keys(typed: Any) -> set[str]:
    return set(typed.__required_keys__ | typed.__optional_keys__)


# The sampling parameters left the 2.x SDK's params, but API version 2023-06-01 takes them.
TOP = keys(MessageCreateParamsNonStreaming) | {"temperature", "top_p", "top_k"}
BLOCKS = {
    "text": types.TextBlockParam,
    "image": types.ImageBlockParam,
    "document": types.DocumentBlockParam,
    "tool_use": types.ToolUseBlockParam,
    "tool_result": types.ToolResultBlockParam,
    "thinking": types.ThinkingBlockParam,
    "redacted_thinking": types.RedactedThinkingBlockParam,
}
SOURCES = {
    ("image", "base64"): types.Base64ImageSourceParam,
    ("image", "url"): types.URLImageSourceParam,
    ("document", "base64"): types.Base64PDFSourceParam,
    ("document", "text"): types.PlainTextSourceParam,
}
CHOICES = {
    "auto": types.ToolChoiceAutoParam,
    "any": types.ToolChoiceAnyParam,
    "tool": types.ToolChoiceToolParam,
    "none": types.ToolChoiceNoneParam,
}
THINKING = {"enabled": types.ThinkingConfigEnabledParam, "adaptive": types.ThinkingConfigAdaptiveParam}


def _block(block: dict[str, Any], where: str) -> None:
    kind = block["type"]
    assert set(block) <= keys(BLOCKS[kind]), f"{where}: {set(block) - keys(BLOCKS[kind])}"
    if "source" in block:
        source = block["source"]
        assert set(source) <= keys(SOURCES[kind, source["type"]]), f"{where}.source"
    if kind == "tool_result" and isinstance(block.get("content"), list):
        for index, inner in enumerate(block["content"]):
            _block(inner, f"{where}.content.{index}")
    if kind == "text":
        assert block["text"], f"{where}: Anthropic refuses an empty text block"


def check(body: dict[str, Any]) -> None:
    """Every key of the body is one Anthropic takes where it stands."""
    assert set(body) <= TOP, set(body) - TOP
    for index, turn in enumerate(body["messages"]):
        assert set(turn) == {"role", "content"} and turn["role"] in ("user", "assistant"), f"messages.{index}"
        assert turn["content"], f"messages.{index}: Anthropic refuses empty content"
        if isinstance(turn["content"], list):
            for place, block in enumerate(turn["content"]):
                _block(block, f"messages.{index}.content.{place}")
    for index, block in enumerate(body.get("system") or ()):
        _block(block, f"system.{index}")
    for tool in body.get("tools", ()):
        expected = types.ToolParam if "input_schema" in tool else types.WebSearchTool20250305Param
        assert set(tool) <= keys(expected), set(tool) - keys(expected)
    if "tool_choice" in body:
        assert set(body["tool_choice"]) <= keys(CHOICES[body["tool_choice"]["type"]])
    if "thinking" in body:
        assert set(body["thinking"]) <= keys(THINKING[body["thinking"]["type"]])
    assert set(body.get("metadata", {})) <= keys(types.MetadataParam)
    assert set(body.get("output_config", {})) <= keys(types.OutputConfigParam)
