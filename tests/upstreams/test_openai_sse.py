"""OpenAI's event stream read line by line: events, comments, `[DONE]`, and the failures of bad lines."""

from __future__ import annotations

from gateway.upstreams.llm import Chunk, StreamFailed, Usage
from gateway.upstreams.providers.openai_sse import merge, parse_line


def test_parse_line_skips_comments_and_blank_lines_and_reads_done() -> None:
    assert parse_line(b"") is None
    assert parse_line(b": keep-alive") is None
    assert parse_line(b"event: message") is None
    assert parse_line(b"data: [DONE]").finish_reason == "[DONE]"  # type: ignore[union-attr]
    chunk = parse_line(b'data:{"choices":[{"delta":{"content":"x"},"finish_reason":null}]}\r')
    assert chunk == Chunk(text="x")


def test_the_events_of_one_read_become_one_chunk_and_a_bad_line_fails_after_the_text_before_it() -> None:
    lines = [
        b'data: {"choices":[{"delta":{"content":"a"},"finish_reason":null}]}',
        b"",
        b'data: {"choices":[{"delta":{"content":"b"},"finish_reason":"stop"}]}',
        b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}',
        b"data: {not json",
        b'data: {"choices":[{"delta":{"content":"never"}}]}',
    ]
    chunk, done, failure = merge(lines)
    assert chunk == Chunk(text="ab", finish_reason="stop", usage=Usage(3, 2))
    assert not done and isinstance(failure, StreamFailed) and "not JSON" in failure.message
    assert merge([b"data: [DONE]", b'data: {"choices":[{"delta":{"content":"late"}}]}']) == (None, True, None)
