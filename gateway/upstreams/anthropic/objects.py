"""Whole answers (`stream: false`) in the other API's shape: Anthropic's Message as OpenAI's
`chat.completion`, for a chat client of an Anthropic upstream, and a `chat.completion` as a
Message, for a `/v1/messages` client of a chat-completions upstream. Pure.

A Message's text blocks are joined into `content` (null when there is none); its tool_use blocks
are `tool_calls` whose arguments are the input as compact JSON; its thinking is
`reasoning_content` (the texts joined) and the blocks themselves, signatures and redacted ones
included, are LiteLLM's `thinking_blocks`, so that a client can send them back. The reverse builds
the content as [thinking…][text][tool_use…]: signed `thinking_blocks` as they came, else
`reasoning_content` as a thinking block without a signature.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from gateway.upstreams.anthropic.terms import (
    anthropic_usage,
    as_dict,
    chat_usage,
    finish_reason,
    openai_usage_of,
    signed_blocks,
    stop_reason,
    tool_id,
    tool_input,
    usage_of,
)
from gateway.upstreams.llm import Usage, text_of


def to_chat_completion(message: dict[str, Any], completion_id: str, created: int | None = None) -> dict[str, Any]:
    """Anthropic's Message as OpenAI's `chat.completion` (`created`: now, unless given)."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    thoughts: list[str] = []
    blocks: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
        elif kind == "thinking":
            thought = block.get("thinking")
            thoughts.append(thought if isinstance(thought, str) else "")
            blocks.append({"type": "thinking", "thinking": block.get("thinking"), "signature": block.get("signature")})
        elif kind == "redacted_thinking":
            blocks.append({"type": "redacted_thinking", "data": block.get("data")})
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        reply["tool_calls"] = calls
    if thoughts:
        reply["reasoning_content"] = "".join(thoughts)
    if blocks:
        reply["thinking_blocks"] = blocks
    choice = {
        "index": 0,
        "message": reply,
        "logprobs": None,
        "finish_reason": finish_reason(message.get("stop_reason")) or "stop",
    }
    completion: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": message.get("model"),
        "choices": [choice],
        "system_fingerprint": None,
    }
    usage = usage_of(message.get("usage"))
    if usage is not None:
        completion["usage"] = chat_usage(usage)
    return completion


def to_message(body: dict[str, Any], message_id: str, model: str) -> dict[str, Any]:
    """OpenAI's `chat.completion` as Anthropic's Message."""
    choices = body.get("choices")
    choice = as_dict(choices[0] if isinstance(choices, list) and choices else None)
    reply = as_dict(choice.get("message"))
    content: list[dict[str, Any]] = signed_blocks(reply.get("thinking_blocks"))
    reasoning = reply.get("reasoning_content")
    if not content and isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = text_of(reply.get("content")) or (reply["refusal"] if isinstance(reply.get("refusal"), str) else "")
    if text:
        content.append({"type": "text", "text": text})
    calls = reply.get("tool_calls")
    for index, call in enumerate(calls if isinstance(calls, list) else ()):
        if not isinstance(call, dict):
            continue
        function = as_dict(call.get("function"))
        given = call["id"] if isinstance(call.get("id"), str) and call["id"] else f"{message_id}_{index}"
        input_ = tool_input(function.get("arguments"))
        content.append({"type": "tool_use", "id": tool_id(given), "name": function.get("name"), "input": input_})
    usage = openai_usage_of(body.get("usage")) or Usage(0, 0)
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": anthropic_usage(usage),
    }
