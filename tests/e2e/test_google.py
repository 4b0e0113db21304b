"""Gemini on Google AI Studio (`gemini/…`) through a real gateway in front of the fake Google upstream
(bench/fake_google, which speaks Gemini's wire format and checks requests as Gemini does): the
`openai` SDK's streamed text with usage (cached and thinking tokens), streamed tool calls whose
thought signatures come back on the next turn, JSON schema output and images; `/stream`,
`/v1/responses` and `/v1/embeddings`; a quota error failed over to another provider, and a bad
request that is the answer. Both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openai import OpenAI

from tests.conftest import SDK_KEY, FakeOpenAI
from tests.servers import UvicornProcess

THINKER = "gemini-3-flash-fake"  # thinks, and refuses a tool turn whose signature is missing
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def google_url(fake_google_server: UvicornProcess) -> str:
    httpx.post(fake_google_server.url + "/_reset")
    return fake_google_server.url


def entries(google_url: str, openai_url: str) -> list[dict[str, Any]]:
    return [
        {
            "model_name": "gemini",
            "litellm_params": {
                "model": f"gemini/{THINKER}",
                "api_key": "os.environ/GEMINI_KEY",
                "api_base": google_url,
            },
            "model_info": {"id": "ai-studio"},
        },
        {
            "model_name": "gemini-embedding",
            "litellm_params": {"model": "gemini/gemini-embedding-fake", "api_base": google_url},
            "model_info": {"id": "ai-studio-embeddings"},
        },
        {
            "model_name": "gpt-fake",
            "litellm_params": {"model": "openai/fake-large", "api_key": "os.environ/GPT_KEY", "api_base": openai_url},
            "model_info": {"id": "gpt-upstream"},
        },
    ]


@pytest.fixture
def server(
    uvicorn_gateway: Callable[..., UvicornProcess], google_url: str, fake_openai: FakeOpenAI, tmp_path: Path
) -> UvicornProcess:
    path = tmp_path / "config.yaml"
    config = {"model_list": entries(google_url, fake_openai.base_url), "litellm_settings": {"fallbacks": []}}
    config["litellm_settings"]["fallbacks"] = [{"gemini": ["gpt-fake"]}]
    path.write_text(yaml.safe_dump(config))
    # The embeddings entry names no key: GEMINI_API_KEY is read, as LiteLLM reads it.
    env = {"GATEWAY_CONFIG": str(path), "GEMINI_KEY": "fake-gemini-key", "GEMINI_API_KEY": "fake-gemini-key"}
    return uvicorn_gateway(API_KEY=SDK_KEY, GPT_KEY="sk-gpt", **env)


def sdk(server: UvicornProcess) -> OpenAI:
    return OpenAI(api_key=SDK_KEY, base_url=server.url + "/v1", max_retries=0)


def sent(google_url: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = httpx.get(google_url + "/_requests").json()
    return [entry for entry in seen if entry.get("kind") == "gemini"]


def newest(server: UvicornProcess) -> dict[str, Any]:
    listed = httpx.get(server.url + "/history?limit=1", headers={"x-api-key": SDK_KEY}).json()
    item: dict[str, Any] = listed["items"][0]
    return item


def test_a_stream_has_the_text_and_the_usage_with_cached_and_thinking_tokens(
    server: UvicornProcess, google_url: str
) -> None:
    with sdk(server).chat.completions.with_streaming_response.create(
        model="gemini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi [[chunks=4 cache=7]]"}],
        stream=True,
        stream_options={"include_usage": True},
        temperature=0.5,
        max_tokens=50,
    ) as response:
        assert response.headers["x-upstream"] == "ai-studio"
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert text == "tok0 tok1 tok2 tok3"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert usage is not None and usage.prompt_tokens_details and usage.completion_tokens_details
    assert usage.prompt_tokens_details.cached_tokens == 7 and usage.completion_tokens_details.reasoning_tokens == 16
    request = sent(google_url)[-1]
    assert request["path"] == f"/v1beta/models/{THINKER}:streamGenerateContent" and request["query"] == {"alt": "sse"}
    assert request["headers"]["x-goog-api-key"] == "fake-gemini-key" and "key" not in request["query"]
    assert request["body"]["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert request["body"]["generationConfig"] == {"maxOutputTokens": 50, "temperature": 0.5}
    saved = newest(server)
    assert saved["response"] == text and saved["upstream"] == "ai-studio" and saved["upstream_model"] == THINKER
    assert saved["cached_tokens"] == 7 and saved["status"] == "complete"


def test_streamed_tool_calls_carry_their_thought_signatures_to_the_next_turn(
    server: UvicornProcess, google_url: str
) -> None:
    client = sdk(server)
    asked: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    stream = client.chat.completions.create(model="gemini", messages=asked, tools=[WEATHER], stream=True)
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    for chunk in stream:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            whole = calls.setdefault(call.index, {"id": call.id, "name": "", "arguments": ""})
            whole["name"] += call.function.name or "" if call.function else ""
            whole["arguments"] += call.function.arguments or "" if call.function else ""
        finish = (chunk.choices[0].finish_reason if chunk.choices else None) or finish
    assert finish == "tool_calls" and len(calls) == 1
    call = calls[0]
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "city value"}
    signature = sent(google_url)[-1]
    assert "__thought__" in call["id"]  # what an OpenAI client keeps of the call: its id
    follow = [
        *asked,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": call["arguments"]},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call["id"], "content": '{"temperature": 21}'},
    ]
    answer = client.chat.completions.create(model="gemini", messages=follow, tools=[WEATHER])
    assert answer.choices[0].finish_reason == "stop" and answer.choices[0].message.content
    contents = sent(google_url)[-1]["body"]["contents"]
    assert contents[1]["role"] == "model" and contents[1]["parts"][0]["thoughtSignature"]
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "get_weather", "response": {"temperature": 21}}}],
    }
    assert signature["body"]["tools"] == [
        {"functionDeclarations": [{"name": "get_weather", "description": "The weather in a city",
                                   "parametersJsonSchema": WEATHER["function"]["parameters"]}]}
    ]  # fmt: skip
    forged = [*follow[:1], {**follow[1], "tool_calls": [{**follow[1]["tool_calls"][0], "id": "call_x__thought__QUJD"}]}]
    refused = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "gemini", "messages": [*forged, {**follow[2], "tool_call_id": "call_x__thought__QUJD"}]},
        headers={"x-api-key": SDK_KEY},
    )
    assert refused.status_code == 400 and "Corrupted thought signature" in refused.text


def test_json_schema_output_and_an_image_as_inline_data(server: UvicornProcess, google_url: str) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    answer = sdk(server).chat.completions.create(
        model="gemini",
        messages=[{"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]}],
        response_format={"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}},
        reasoning_effort="low",
    )
    assert json.loads(answer.choices[0].message.content or "") == {"answer": "answer value"}
    assert answer.usage is not None and answer.usage.completion_tokens_details is not None
    body = sent(google_url)[-1]["body"]
    assert body["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json" and config["responseJsonSchema"] == schema
    assert config["thinkingConfig"] == {"thinkingLevel": "LOW", "includeThoughts": True}
    assert answer.choices[0].message.model_extra and answer.choices[0].message.model_extra["reasoning_content"]


def test_the_stream_route_and_the_responses_api_are_answered_by_gemini(server: UvicornProcess) -> None:
    streamed = httpx.post(
        server.url + "/stream",
        json={"prompt": "hi [[chunks=3]]", "model": "gemini"},
        headers={"x-api-key": SDK_KEY},
    )
    assert streamed.status_code == 200 and streamed.text == "tok0 tok1 tok2"
    response = sdk(server).responses.create(model="gemini", input="hello [[chunks=2]]")
    assert response.output_text == "tok0 tok1" and response.usage is not None
    with sdk(server).responses.stream(model="gemini", input="again [[chunks=2]]") as events:
        final = events.get_final_response()
    assert final.output_text == "tok0 tok1" and newest(server)["upstream"] == "ai-studio"


def test_embeddings_are_one_vector_an_input(server: UvicornProcess, google_url: str) -> None:
    listed = sdk(server).embeddings.create(model="gemini-embedding", input=["one", "two"], dimensions=4)
    assert [len(item.embedding) for item in listed.data] == [4, 4] and listed.data[0].embedding != listed.data[
        1
    ].embedding
    batch = sent(google_url)[-1]
    assert batch["path"] == "/v1beta/models/gemini-embedding-fake:batchEmbedContents"
    assert [r["content"] for r in batch["body"]["requests"]] == [
        {"parts": [{"text": "one"}]},
        {"parts": [{"text": "two"}]},
    ]


def test_a_quota_error_fails_over_to_another_provider_and_a_bad_request_is_the_answer(
    server: UvicornProcess, google_url: str, fake_openai: FakeOpenAI
) -> None:
    httpx.post(google_url + "/_mode", json={"reject": 429})
    answer = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "gemini", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": SDK_KEY},
    )
    assert answer.status_code == 200 and answer.headers["x-upstream"] == "gpt-upstream"
    assert newest(server)["upstream"] == "gpt-upstream" and len(fake_openai.requests()) == 1
    httpx.post(google_url + "/_reset")
    refused = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "gemini", "messages": [{"role": "user", "content": "hi [[reject=400]]"}]},
        headers={"x-api-key": SDK_KEY},
    )
    assert refused.status_code == 400 and refused.json()["error"]["type"] == "bad_request"
    assert len(fake_openai.requests()) == 1 and len(sent(google_url)) == 1
