"""Whole answers in the other API's shape: Anthropic's Message as a `chat.completion` (text joined,
tool calls, reasoning and thinking blocks, finish reason, usage with its cache counts) and back,
each valid for the other API's own SDK."""

from __future__ import annotations

from typing import Any

from anthropic.types import Message
from openai.types.chat import ChatCompletion

from gateway.upstreams.anthropic.objects import to_chat_completion, to_message

SIGNED = {"type": "thinking", "thinking": "Think first.", "signature": "EqQBsig=="}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgB"}
MESSAGE: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [
        SIGNED,
        REDACTED,
        {"type": "text", "text": "Let me look ", "citations": None},
        {"type": "text", "text": "that up."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 10,
        "cache_creation_input_tokens": 2,
        "cache_read_input_tokens": 5,
        "output_tokens": 7,
        "output_tokens_details": {"thinking_tokens": 3},
    },
}


def test_a_message_is_a_chat_completion_with_its_text_calls_thinking_finish_and_usage() -> None:
    completion = to_chat_completion(MESSAGE, "chatcmpl-1", created=1700000000)
    assert completion == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "claude-x",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Let me look that up.",
                    "tool_calls": [
                        {"id": "toolu_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
                        {"id": "toolu_2", "type": "function", "function": {"name": "now", "arguments": "{}"}},
                    ],
                    "reasoning_content": "Think first.",
                    "thinking_blocks": [SIGNED, REDACTED],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "system_fingerprint": None,
        "usage": {
            "prompt_tokens": 17,
            "completion_tokens": 7,
            "total_tokens": 24,
            "prompt_tokens_details": {"cached_tokens": 5, "cache_creation_tokens": 2, "cache_write_tokens": 2},
            "completion_tokens_details": {"reasoning_tokens": 3},
        },
    }  # fmt: skip
    ChatCompletion.model_validate(completion)


def test_a_message_without_text_has_null_content_and_a_cut_one_finishes_for_length() -> None:
    message = {**MESSAGE, "content": [MESSAGE["content"][4]], "stop_reason": "max_tokens"}
    choice = to_chat_completion(message, "chatcmpl-1")["choices"][0]
    assert choice["message"]["content"] is None and choice["finish_reason"] == "length"
    assert "reasoning_content" not in choice["message"] and "thinking_blocks" not in choice["message"]


def test_a_chat_completion_is_a_message_of_thinking_text_then_tool_uses() -> None:
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-x",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Looking.",
                    "reasoning_content": "Think first.",
                    "thinking_blocks": [SIGNED],
                    "tool_calls": [
                        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": '{"x": [1]}'}},
                        {"id": "functions.g:1", "type": "function", "function": {"name": "g", "arguments": "{cut"}},
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 5,
                                                                                         "cache_write_tokens": 3}},
    }  # fmt: skip
    message = to_message(completion, "msg_1", "claude-alias")
    Message.model_validate(message)
    assert message["id"] == "msg_1" and message["model"] == "claude-alias"
    assert [block["type"] for block in message["content"]] == ["thinking", "text", "tool_use", "tool_use"]
    assert message["content"][0] == SIGNED
    assert message["content"][2] == {"type": "tool_use", "id": "call_a", "name": "f", "input": {"x": [1]}}
    assert message["content"][3]["input"] == {} and message["content"][3]["id"].startswith("functions_g_1_")
    assert message["stop_reason"] == "tool_use" and message["stop_sequence"] is None
    assert message["usage"] == {
        "input_tokens": 12,
        "output_tokens": 9,
        "cache_creation_input_tokens": 3,
        "cache_read_input_tokens": 5,
    }


def test_reasoning_without_a_signature_is_an_unsigned_thinking_block() -> None:
    reply = {"role": "assistant", "content": "Yes.", "reasoning_content": "Hmm."}
    message = to_message({"choices": [{"message": reply, "finish_reason": "length"}]}, "msg_1", "m")
    assert message["content"] == [
        {"type": "thinking", "thinking": "Hmm.", "signature": ""},
        {"type": "text", "text": "Yes."},
    ]
    assert message["stop_reason"] == "max_tokens"
    assert message["usage"]["input_tokens"] == 0


def test_a_message_goes_to_chat_and_back_with_its_blocks_its_text_joined() -> None:
    back = to_message(to_chat_completion(MESSAGE, "chatcmpl-1"), "msg_1", "claude-x")
    text = {"type": "text", "text": "Let me look that up."}
    assert back["content"] == [SIGNED, REDACTED, text, *MESSAGE["content"][4:]]
    assert back["stop_reason"] == "tool_use"
    usage = MESSAGE["usage"]
    assert back["usage"] == {name: usage[name] for name in back["usage"]}
