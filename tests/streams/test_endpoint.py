"""/stream through the ASGI app, on SQLite and PostgreSQL: framing, headers, records, errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from gateway.upstreams.llm import Chunk, Completion
from gateway.upstreams.providers.mock import MockLLM, mock_answer
from tests.conftest import Gateway, assert_error

PROMPT = "Explain how write-ahead logging works"


class RecordingLLM(MockLLM):
    """The mock, remembering what it was asked."""

    def __init__(self) -> None:
        super().__init__(delay=0)
        self.asked: list[Completion] = []

    async def _stream(self, completion: Completion) -> AsyncGenerator[Chunk, None]:
        self.asked.append(completion)
        async for chunk in super()._stream(completion):
            yield chunk


async def record(gateway: Gateway, record_id: str) -> dict[str, Any]:
    response = await gateway.get(f"/history/{record_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_text_body_equals_the_stored_response(gateway: Gateway) -> None:
    response = await gateway.post("/stream", json={"prompt": PROMPT})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    expected = mock_answer([{"role": "user", "content": PROMPT}])
    assert response.text == expected
    stored = await record(gateway, response.headers["x-record-id"])
    assert stored["response"] == response.text
    assert stored["status"] == "complete"
    assert stored["prompt"] == PROMPT
    assert stored["stream_format"] == "text"
    assert stored["prompt_tokens"] > 0 and stored["completion_tokens"] > 0
    assert stored["usage_estimated"] is False
    assert stored["ttft_ms"] is not None and stored["duration_ms"] >= stored["ttft_ms"]
    assert stored["completed_at"] >= stored["created_at"]


@pytest.mark.parametrize("stream_format", ["text", "openai", "sse"])
async def test_every_stream_carries_the_contract_headers(gateway: Gateway, stream_format: str) -> None:
    response = await gateway.post(f"/stream?stream_format={stream_format}", json={"prompt": PROMPT})
    headers = response.headers
    assert uuid.UUID(headers["x-record-id"])
    assert uuid.UUID(headers["x-conversation-id"])
    assert headers["x-request-id"]
    assert "no-cache" in headers["cache-control"] and "no-transform" in headers["cache-control"]
    assert headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in headers


async def test_openai_format_is_ndjson_chunks_as_openai_sends_them(gateway: Gateway) -> None:
    response = await gateway.post("/stream?stream_format=openai", json={"prompt": PROMPT, "model": "gpt-test"})
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.text.endswith("\n")
    chunks = [json.loads(line) for line in response.text.splitlines()]
    assert len({c["id"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "gpt-test" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = [c["choices"][0]["delta"]["content"] for c in chunks[1:-2]]
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:-2])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    usage = chunks[-1]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    stored = await record(gateway, response.headers["x-record-id"])
    assert "".join(content) == stored["response"]
    assert stored["model"] == "gpt-test"


async def test_sse_events_carry_record_offsets_and_end_with_done(gateway: Gateway) -> None:
    response = await gateway.get("/stream", params={"prompt": PROMPT, "stream_format": "sse"})
    assert response.headers["content-type"].startswith("text/event-stream")
    record_id = response.headers["x-record-id"]
    events = response.text.split("\n\n")
    assert events[-1] == ""
    assert events[-2] == "data: [DONE]"
    text = ""
    for event in events[:-2]:
        id_line, data_line = event.split("\n")
        assert id_line.startswith(f"id: {record_id}:")
        chunk = json.loads(data_line.removeprefix("data: "))
        choices = chunk["choices"]
        if choices and "content" in choices[0]["delta"]:
            text += choices[0]["delta"]["content"]
        assert id_line == f"id: {record_id}:{len(text)}"
    stored = await record(gateway, record_id)
    assert text == stored["response"]


async def test_offsets_count_code_points_not_bytes(make_gateway: Any) -> None:
    class Emoji(MockLLM):
        async def _stream(self, completion: Completion) -> AsyncGenerator[Chunk, None]:
            for text in ("héllo ", "🙂", " ok"):
                yield Chunk(text=text)
            yield Chunk(finish_reason="stop")

    gateway = await make_gateway(llm=Emoji())
    response = await gateway.post("/stream?stream_format=sse", json={"prompt": "x"})
    ids = [line.rsplit(":", 1)[1] for line in response.text.splitlines() if line.startswith("id:")]
    assert ids[:4] == ["0", "6", "7", "10"]
    stored = await record(gateway, response.headers["x-record-id"])
    assert stored["usage_estimated"] is True
    assert stored["response"] == "héllo 🙂 ok"


async def test_get_stream_takes_the_same_fields_as_query_parameters(gateway: Gateway) -> None:
    response = await gateway.get("/stream", params={"prompt": PROMPT, "max_tokens": "4", "temperature": "0.5"})
    assert response.status_code == 200
    assert len(response.text.split()) == 4
    stored = await record(gateway, response.headers["x-record-id"])
    assert stored["status"] == "complete"


async def test_a_conversation_sends_earlier_turns_oldest_first(make_gateway: Any) -> None:
    llm = RecordingLLM()
    gateway = await make_gateway(llm=llm)
    first = await gateway.post("/stream", json={"prompt": "First question", "system": "Be brief."})
    conversation = first.headers["x-conversation-id"]
    second = await gateway.post("/stream", json={"prompt": "Second question", "conversation_id": conversation})
    assert second.headers["x-conversation-id"] == conversation
    third = await gateway.post(
        "/stream", json={"prompt": "Third question", "conversation_id": conversation, "system": "Be kind."}
    )
    assert third.status_code == 200
    assert llm.asked[-1].messages == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "Second question"},
        {"role": "assistant", "content": second.text},
        {"role": "user", "content": "Third question"},
    ]
    listed = (await gateway.get("/history", params={"conversation_id": conversation})).json()
    assert [item["prompt"] for item in listed["items"]] == ["Third question", "Second question", "First question"]


async def test_an_unknown_conversation_is_404(gateway: Gateway) -> None:
    response = await gateway.post("/stream", json={"prompt": "hi", "conversation_id": str(uuid.uuid4())})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


@pytest.mark.parametrize(
    ("body", "status", "mentions"),
    [
        (b"{not json", 400, "JSON"),
        (b"\xff\xfe\x00", 400, "JSON"),
        (b"[" * 100_000 + b"]" * 100_000, 400, ""),
        (b"[1, 2]", 422, "object"),
        (b"{}", 422, "prompt"),
        (b'{"prompt": "   "}', 422, "prompt"),
        (b'{"prompt": 5}', 422, "prompt"),
        (b'{"prompt": "hi", "temperature": "hot"}', 422, "temperature"),
        (b'{"prompt": "hi", "temperature": 3}', 422, "temperature"),
        (b'{"prompt": "hi", "max_tokens": 0}', 422, "max_tokens"),
        (b'{"prompt": "hi", "max_tokens": true}', 422, "max_tokens"),
        (b'{"prompt": "hi", "conversation_id": "nope"}', 422, "conversation_id"),
        (b'{"prompt": "hi", "model": ""}', 422, "model"),
        (b'{"prompt": "hi", "stream_format": "xml"}', 422, "stream_format"),
        (b'{"prompt": "hi", "on_disconnect": "later"}', 422, "on_disconnect"),
        (b'{"prompt": "hi", "promt": "typo"}', 422, "promt"),
        (b'{"prompt": "lone \\ud800 surrogate"}', 422, "prompt"),
        (b'{"prompt": "nul \\u0000 byte"}', 422, "prompt"),
    ],
)
async def test_bad_bodies_get_their_status_and_a_json_error(
    gateway: Gateway, body: bytes, status: int, mentions: str
) -> None:
    response = await gateway.post("/stream", content=body, headers={"content-type": "application/json"})
    assert_error(response, status, mentions)


async def test_wrong_content_type_is_415(gateway: Gateway) -> None:
    response = await gateway.post("/stream", content=b"prompt=hi", headers={"content-type": "text/plain"})
    assert_error(response, 415)


async def test_bad_stream_format_in_the_query_is_422(gateway: Gateway) -> None:
    assert_error(await gateway.post("/stream?stream_format=xml", json={"prompt": "hi"}), 422, "stream_format")
    assert_error(await gateway.get("/stream", params={"prompt": "hi", "stream_format": "x"}), 422, "stream_format")


async def test_body_over_max_body_bytes_is_413(make_gateway: Any) -> None:
    gateway = await make_gateway(max_body_bytes=1000)
    response = await gateway.post("/stream", json={"prompt": "x" * 2000})
    assert_error(response, 413)


async def test_body_over_max_body_bytes_without_content_length_is_413(make_gateway: Any) -> None:
    gateway = await make_gateway(max_body_bytes=1000)

    async def body() -> AsyncGenerator[bytes, None]:
        yield b'{"prompt": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    response = await gateway.post("/stream", content=body(), headers={"content-type": "application/json"})
    assert_error(response, 413)


async def test_prompt_over_max_prompt_chars_is_422(make_gateway: Any) -> None:
    gateway = await make_gateway(max_prompt_chars=10)
    assert_error(await gateway.post("/stream", json={"prompt": "x" * 11}), 422, "prompt")
    assert (await gateway.post("/stream", json={"prompt": "x" * 10})).status_code == 200


async def test_a_refused_request_leaves_no_record(gateway: Gateway) -> None:
    await gateway.post("/stream", json={"prompt": " "})
    assert (await gateway.get("/history")).json()["total"] == 0


async def test_a_sane_request_id_is_reused_and_an_insane_one_replaced(gateway: Gateway) -> None:
    kept = await gateway.post("/stream", json={"prompt": "hi"}, headers={"x-request-id": "abc-123.X_y"})
    assert kept.headers["x-request-id"] == "abc-123.X_y"
    replaced = await gateway.post("/stream", json={"prompt": "hi"}, headers={"x-request-id": "bad id\r\nx: y"})
    assert replaced.headers["x-request-id"] != "bad id"
    assert len(replaced.headers["x-request-id"]) == 32


async def test_unknown_route_and_method_are_json(gateway: Gateway) -> None:
    assert_error(await gateway.get("/nope"), 404)
    assert_error(await gateway.put("/stream"), 405)
