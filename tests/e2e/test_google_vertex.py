"""Vertex AI (`vertex_ai/…`) through a real gateway in front of the fake Google upstream, with a
service account's key file whose token endpoint is the fake's (it checks the signed JWT): Claude
through `/v1/messages` (the `anthropic` SDK; Vertex's events relayed as they came, the body
without `model` and with Vertex's `anthropic_version`) and through chat completions; Gemini with
tools and a whole answer; tokens fetched once and refreshed before they expire, never logged; and
a LiteLLM config.yaml naming every provider starts and `/health` lists them. Both databases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
import yaml
from openai import OpenAI

from bench.fake_google.auth import write_service_account
from tests.conftest import SDK_KEY
from tests.e2e.test_google import WEATHER
from tests.servers import UvicornProcess

CLAUDE = "claude-sonnet-fake@20250101"
GEMINI = "gemini-3-pro-fake"
PROJECT_PATH = "/v1/projects/fake-project/locations/us-east5/publishers"


@pytest.fixture
def google_url(fake_google_server: UvicornProcess) -> str:
    httpx.post(fake_google_server.url + "/_reset")
    return fake_google_server.url


def vertex_entries(google_url: str, key_file: str) -> list[dict[str, Any]]:
    params = {"api_base": google_url, "vertex_location": "us-east5", "vertex_credentials": key_file}
    return [
        {
            "model_name": "claude",
            "litellm_params": {"model": f"vertex_ai/{CLAUDE}", **params},
            "model_info": {"id": "vc"},
        },
        {
            "model_name": "gemini",
            "litellm_params": {"model": f"vertex_ai/{GEMINI}", **params},
            "model_info": {"id": "vg"},
        },
    ]


@pytest.fixture
def server(uvicorn_gateway: Callable[..., UvicornProcess], google_url: str, tmp_path: Path) -> UvicornProcess:
    key_file = tmp_path / "service-account.json"
    write_service_account(str(key_file), google_url)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"model_list": vertex_entries(google_url, str(key_file))}))
    return uvicorn_gateway(API_KEY=SDK_KEY, GATEWAY_CONFIG=str(path))


def seen(google_url: str, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(google_url + "/_requests").json()
    return [entry for entry in found if entry.get("kind") == kind]


def tokens(google_url: str) -> dict[str, Any]:
    issued: dict[str, Any] = httpx.get(google_url + "/_tokens").json()
    return issued


def claude(server: UvicornProcess) -> Any:
    return anthropic.Anthropic(api_key=SDK_KEY, base_url=server.url, max_retries=0)


def test_claude_on_vertex_is_relayed_to_an_anthropic_client_as_vertex_sent_it(
    server: UvicornProcess, google_url: str
) -> None:
    body = {
        "model": "claude",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "[[chunks=3]]"}],
    }
    headers = {"x-api-key": SDK_KEY, "anthropic-version": "2023-06-01"}
    relayed = httpx.post(server.url + "/v1/messages", json=body, headers=headers, timeout=30)
    assert relayed.status_code == 200 and relayed.headers["x-upstream"] == "vc"
    sent = seen(google_url, "vertex-claude")[-1]
    assert sent["path"] == f"{PROJECT_PATH}/anthropic/models/{CLAUDE}:streamRawPredict"
    assert sent["body"] == {"anthropic_version": "vertex-2023-10-16", "max_tokens": 100, "stream": True,
                            "messages": body["messages"]}  # fmt: skip
    issued = tokens(google_url)
    assert sent["headers"]["authorization"] == f"Bearer {issued['log'][0]['issued']}"
    direct = httpx.post(
        google_url + sent["path"], json=sent["body"], headers={"authorization": sent["headers"]["authorization"]}
    )
    drop_id = lambda text: text.split('"id":"msg_vrtx_', 1)[0] + text.split('"id":"msg_vrtx_', 1)[1][24:]  # noqa: E731
    assert drop_id(relayed.text) == drop_id(direct.text)  # byte for byte but the message's id
    with claude(server).messages.stream(
        model="claude", max_tokens=64, messages=[{"role": "user", "content": "hi [[chunks=2]]"}]
    ) as stream:
        assert "".join(stream.text_stream) == "tok0 tok1"
    assert tokens(google_url)["requests"] == 1  # one token, reused while it lives
    assert issued["log"][0]["issued"] not in server.log_text()  # never logged


def test_claude_on_vertex_keeps_its_thinking_signatures_through_a_tool_loop(server: UvicornProcess) -> None:
    sdk = claude(server)
    asked = [{"role": "user", "content": "Weather in Paris?"}]
    tool = {"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}
    thinking = {"type": "enabled", "budget_tokens": 1024}
    first = sdk.messages.create(model="claude", max_tokens=2048, messages=asked, tools=[tool], thinking=thinking)
    assert [block.type for block in first.content] == ["thinking", "tool_use"] and first.stop_reason == "tool_use"
    call = first.content[1]
    follow = [
        *asked,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
    ]
    second = sdk.messages.create(model="claude", max_tokens=2048, messages=follow, tools=[tool], thinking=thinking)
    assert second.stop_reason == "end_turn"  # the fake refuses a thinking block whose signature changed


def test_chat_clients_get_vertex_claude_and_vertex_gemini_translated(server: UvicornProcess, google_url: str) -> None:
    client = OpenAI(api_key=SDK_KEY, base_url=server.url + "/v1", max_retries=0)
    answer = client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "hi [[chunks=2 cache=3]]"}], temperature=0.2
    )
    assert answer.choices[0].message.content == "tok0 tok1" and answer.usage is not None
    assert answer.usage.prompt_tokens_details is not None and answer.usage.prompt_tokens_details.cached_tokens == 3
    assert seen(google_url, "vertex-claude")[-1]["path"].endswith(":rawPredict")
    called = client.chat.completions.create(
        model="gemini",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
    )
    assert called.choices[0].finish_reason == "tool_calls" and called.choices[0].message.tool_calls
    sent = seen(google_url, "vertex-gemini")[-1]
    assert sent["path"] == f"{PROJECT_PATH}/google/models/{GEMINI}:generateContent"
    assert "x-goog-api-key" not in sent["headers"] and sent["headers"]["authorization"].startswith("Bearer ya29.")
    assert tokens(google_url)["requests"] == 2  # one an upstream


def test_a_token_is_refreshed_before_it_expires(
    uvicorn_gateway: Callable[..., UvicornProcess], google_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "service-account.json"
    write_service_account(str(key_file), google_url)
    entries = vertex_entries(google_url, str(key_file))
    for entry in entries:  # GOOGLE_APPLICATION_CREDENTIALS names the key file instead, as LiteLLM reads it
        entry["litellm_params"].pop("vertex_credentials")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"model_list": entries}))
    server = uvicorn_gateway(API_KEY=SDK_KEY, GATEWAY_CONFIG=str(path), GOOGLE_APPLICATION_CREDENTIALS=str(key_file))
    httpx.post(google_url + "/_mode", json={"token_ttl": 200})  # under google-auth's 225 s: stale at once
    body = {"model": "gemini", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(2):
        answered = httpx.post(server.url + "/v1/chat/completions", json=body, headers={"x-api-key": SDK_KEY})
        assert answered.status_code == 200
    assert tokens(google_url)["requests"] == 2


def test_a_litellm_config_naming_every_provider_starts_and_health_lists_them(
    uvicorn_gateway: Callable[..., UvicornProcess], google_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "service-account.json"
    write_service_account(str(key_file), google_url)
    models = {
        "gpt": "openai/gpt-4o",
        "azure-gpt": "azure/gpt4o-eu",
        "claude-direct": "anthropic/claude-sonnet-4-5",
        "gemini-studio": "gemini/gemini-2.5-flash",
        "llama": "groq/llama-3.1-8b-instant",
        "mocked": "mock/anything",
    }
    entries: list[dict[str, Any]] = [
        {"model_name": name, "litellm_params": {"model": model}} for name, model in models.items()
    ]
    entries[1]["litellm_params"].update(api_base="https://eu.openai.azure.com", api_version="2024-10-21")
    entries += [
        {"model_name": "vertex-gemini", "litellm_params": {"model": "vertex_ai/gemini-2.5-pro",
                                                            "vertex_credentials": "os.environ/VERTEX_KEY_FILE"}},
        {"model_name": "vertex-claude", "litellm_params": {"model": "vertex_ai/claude-opus-4-6", "vertex_project": "p",
                                                            "vertex_location": "global"}},
    ]  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"model_list": entries}))
    env = {
        name: "k" for name in ("OPENAI_API_KEY", "AZURE_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GROQ_API_KEY")
    }
    server = uvicorn_gateway(GATEWAY_CONFIG=str(path), VERTEX_KEY_FILE=str(key_file), **env)
    health = httpx.get(server.url + "/health").json()
    listed = {(u["name"], u["provider"], u["model"]) for u in health["upstreams"]}
    assert {(n, p) for n, p, _ in listed} == {
        ("gpt#0", "openai"), ("azure-gpt#1", "azure"), ("claude-direct#2", "anthropic"),
        ("gemini-studio#3", "gemini"), ("llama#4", "groq"), ("mocked#5", "mock"),
        ("vertex-gemini#6", "vertex_ai"), ("vertex-claude#7", "vertex_ai"),
    }  # fmt: skip
    assert all(set(u) == {"name", "model_name", "provider", "model", "state", "in_flight"} for u in health["upstreams"])
