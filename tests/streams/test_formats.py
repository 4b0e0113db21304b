"""The formats' pure encoders: each frame as its format sends it."""

import json

from gateway.streams import formats


def encoder() -> formats.ChunkEncoder:
    return formats.ChunkEncoder("chatcmpl-abc", "gpt-4o-mini", 1700000000)


def test_role_chunk_is_shaped_as_openai_sends_it() -> None:
    chunk = json.loads(encoder().role())
    assert chunk == {
        "id": "chatcmpl-abc",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
        ],
        "usage": None,
    }


def test_content_chunk_escapes_text_and_keeps_unicode() -> None:
    text = 'quote " backslash \\ newline \n tab \t emoji 🙂 é \x01'
    line = encoder().content(text)
    assert json.loads(line)["choices"][0]["delta"] == {"content": text}
    assert "🙂" in line


def test_a_model_name_with_quotes_and_unicode_stays_valid_json() -> None:
    model = 'org/mödel "q" \\ \u2028'
    chunk = json.loads(formats.ChunkEncoder("chatcmpl-x", model, 1).finish("stop"))
    assert chunk["model"] == model and chunk["choices"][0]["finish_reason"] == "stop"


def test_the_finish_chunk_then_the_usage_chunk_with_empty_choices_end_a_stream() -> None:
    finish = json.loads(encoder().finish("length"))
    assert finish["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "length"}]
    usage = json.loads(encoder().usage(7, 5))
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
    assert usage["id"] == "chatcmpl-abc"


def test_an_error_chunk_carries_its_type_and_message() -> None:
    assert json.loads(formats.error_chunk("upstream_error", "broke")) == {
        "error": {"type": "upstream_error", "message": "broke"}
    }


def test_each_format_frames_a_chunk_as_its_clients_read_it() -> None:
    args = ("rid", "abc", "gpt-4o-mini", 1700000000)
    assert formats.frames_for("text", *args).content("hé", 2) == "hé".encode()
    assert formats.frames_for("text", *args).finish("stop", 2) == b""
    line = formats.frames_for("openai", *args).content("hé", 2)
    assert line.endswith(b"}\n") and json.loads(line)["choices"][0]["delta"] == {"content": "hé"}
    event = formats.frames_for("sse", *args).content("hé", 2)
    assert event.startswith(b"id: rid:2\ndata: {") and event.endswith(b"}\n\n")
    assert formats.frames_for("chat.completions", *args).content("hé", 2).startswith(b"data: {")
    assert formats.frames_for("sse", *args).done() == formats.SSE_DONE == b"data: [DONE]\n\n"
    assert formats.frames_for("openai", *args).done() == b""
    assert formats.SSE_KEEPALIVE == b": keep-alive\n\n"
