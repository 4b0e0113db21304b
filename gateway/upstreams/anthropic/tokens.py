"""An estimate of a Messages request's input tokens, for `count_tokens` when no Anthropic upstream
can count them. Pure, and it refuses nothing: any shape gets a number.

The rule: about four characters a token (`llm.estimate_tokens`'s rule) over every text: system, text
blocks, tool results, thinking, text documents, each tool's name, description and input schema
(as compact JSON), each tool_use block's name and input; plus 3 tokens a message and 3 for the
reply (OpenAI's framing rule, which the gateway's other estimates use), 1,600 an image (what
Anthropic charges for an image of about 1.15 megapixels, the most it reads without scaling down)
and 3,000 a PDF or a document of another source (about two pages).
"""

from __future__ import annotations

import math
from typing import Any

import orjson

IMAGE_TOKENS = 1600
DOCUMENT_TOKENS = 3000
MESSAGE_TOKENS = 3


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return ""


class _Count:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.tokens = 0

    def content(self, content: Any) -> None:
        if isinstance(content, str):
            self.texts.append(content)
            return
        for block in content if isinstance(content, list) else ():
            if isinstance(block, dict):
                self.block(block)

    def block(self, block: dict[str, Any]) -> None:
        kind = block.get("type")
        if kind in ("text", "thinking"):
            self.content(block.get(kind))
        elif kind == "image":
            self.tokens += IMAGE_TOKENS
        elif kind == "document":
            source = block.get("source")
            source = source if isinstance(source, dict) else {}
            if source.get("type") == "text":
                self.content(source.get("data"))
            elif source.get("type") == "content":
                self.content(source.get("content"))
            else:
                self.tokens += DOCUMENT_TOKENS
        elif kind in ("tool_use", "server_tool_use"):
            self.content(block.get("name"))
            self.texts.append(_json(block.get("input")))
        elif kind == "tool_result":
            self.content(block.get("content"))


def estimate_input_tokens(body: dict[str, Any]) -> int:
    """About how many input tokens a Messages request holds (the module's rule)."""
    count = _Count()
    count.content(body.get("system"))
    messages = body.get("messages")
    messages = messages if isinstance(messages, list) else []
    for message in messages:
        if isinstance(message, dict):
            count.content(message.get("content"))
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        if isinstance(tool, dict):
            count.content(tool.get("name"))
            count.content(tool.get("description"))
            count.texts.append(_json(tool.get("input_schema") if "input_schema" in tool else tool))
    characters = sum(len(text) for text in count.texts)
    return math.ceil(characters / 4) + count.tokens + MESSAGE_TOKENS * (len(messages) + 1)
