import json

from gateway import formats


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


def test_finish_and_usage_chunks() -> None:
    finish = json.loads(encoder().finish("length"))
    assert finish["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "length"}]
    usage = json.loads(encoder().usage(7, 5))
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
    assert usage["id"] == "chatcmpl-abc"


def test_error_chunk() -> None:
    assert json.loads(formats.error_chunk("upstream_error", "broke")) == {
        "error": {"type": "upstream_error", "message": "broke"}
    }


def test_ndjson_and_sse_framing() -> None:
    assert formats.ndjson('{"a":1}') == b'{"a":1}\n'
    assert formats.sse('{"a":1}', "rid:12") == b'id: rid:12\ndata: {"a":1}\n\n'
    assert formats.sse("[DONE]") == b"data: [DONE]\n\n"
    assert formats.SSE_DONE == b"data: [DONE]\n\n"
    assert formats.SSE_KEEPALIVE.startswith(b":") and formats.SSE_KEEPALIVE.endswith(b"\n\n")
