"""/v1/chat/completions and /v1/models, driven by the official openai SDK against a real uvicorn."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types.chat import ChatCompletionMessageParam

from tests.conftest import fetch_record
from tests.servers import UvicornProcess

KEY = "operator-key-for-sdk-tests-123456"


@pytest.fixture
def server(uvicorn_gateway: Callable[..., UvicornProcess]) -> UvicornProcess:
    return uvicorn_gateway(API_KEY=KEY, MOCK_DELAY_SECONDS="0.002", OPENAI_MODEL="gpt-gateway")


def test_sdk_streams_a_chat_completion_and_it_is_recorded_with_its_messages(
    server: UvicornProcess, database_url: str
) -> None:
    client = OpenAI(base_url=server.url + "/v1", api_key=KEY)
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a prime number"},
        {"role": "assistant", "content": "Seven."},
        {"role": "user", "content": "Another one about lighthouses"},
    ]
    stream = client.chat.completions.create(
        model="gpt-test", messages=messages, stream=True, stream_options={"include_usage": True}, max_tokens=50
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "lighthouses" in text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1
    history = httpx.get(server.url + "/history", headers={"x-api-key": KEY}).json()["items"][0]
    assert history["prompt"] == "Another one about lighthouses"
    assert history["response"] == text and history["status"] == "complete"
    assert history["stream_format"] == "chat.completions" and history["model"] == "gpt-test"
    assert history["messages"] == messages


def test_sdk_without_stream_gets_one_chat_completion(server: UvicornProcess) -> None:
    client = OpenAI(base_url=server.url + "/v1", api_key=KEY)
    completion = client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "Describe a teapot"}], max_tokens=5
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].finish_reason == "length"
    assert len((completion.choices[0].message.content or "").split()) == 5
    assert completion.usage is not None and completion.usage.completion_tokens == 5
    models = client.models.list()
    assert [m.id for m in models.data] == ["gpt-gateway"]


def test_sdk_sees_errors_shaped_as_openai_sends_them(server: UvicornProcess) -> None:
    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=server.url + "/v1", api_key="wrong").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    client = OpenAI(base_url=server.url + "/v1", api_key=KEY)
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.chat.completions.create(model="m", messages=[])
    error = caught.value.body
    assert isinstance(error, dict) and "messages" in error["message"]
    assert {"type", "message", "param", "code", "request_id"} <= set(error)


def test_without_include_usage_no_usage_chunk_is_sent(server: UvicornProcess) -> None:
    client = OpenAI(base_url=server.url + "/v1", api_key=KEY)
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert all(c.choices for c in chunks)


async def test_fifty_concurrent_async_sdk_streams_each_get_their_answer_and_record(
    server: UvicornProcess, database_url: str
) -> None:
    client = AsyncOpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)

    async def one(index: int) -> str:
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"Question number {index}"}], stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    answers = await asyncio.gather(*(one(i) for i in range(50)))
    await client.close()
    assert all(answers) and len(set(answers)) > 1
    async with httpx.AsyncClient() as http:
        listed = (await http.get(server.url + "/history", params={"limit": 100}, headers={"x-api-key": KEY})).json()
    assert listed["total"] == 50
    assert {item["status"] for item in listed["items"]} == {"complete"}
    record = await fetch_record(database_url, listed["items"][0]["id"])
    assert record["messages"]


def test_text_a_database_or_the_upstreams_json_cannot_hold_is_422(server: UvicornProcess) -> None:
    """Found by schemathesis in `make soak`: a NUL in `model` reached the database (503)."""
    for body in (
        {"model": "m\u0000", "messages": [{"role": "user", "content": "hi"}]},
        {"model": "m", "messages": [{"role": "user", "content": "a NUL \u0000 in the prompt"}]},
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": ["\ud800"]},
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "metadata": {"k": "\udfff"}},
    ):
        response = httpx.post(
            server.url + "/v1/chat/completions",
            content=json.dumps(body),  # \u escapes: a lone surrogate cannot be encoded as UTF-8
            headers={"x-api-key": KEY, "content-type": "application/json"},
        )
        assert response.status_code == 422, response.text
