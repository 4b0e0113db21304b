"""A configuration file through the app: the mock named in it, failover tried without any key,
and what /health, /v1/models, the record and the headers say of the upstreams."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Gateway, rows
from tests.servers import free_port


def write_config(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
async def routed(make_gateway: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    monkeypatch.setenv("DEAD_KEY", "sk-never-shown-anywhere")
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: every connection is refused
    path = write_config(
        tmp_path,
        {
            "model_list": [
                {
                    "model_name": "big",
                    "litellm_params": {"model": "openai/gpt-big", "api_base": dead, "api_key": "os.environ/DEAD_KEY"},
                    "model_info": {"id": "dead-openai"},
                },
                {"model_name": "small", "litellm_params": {"model": "mock/tiny"}, "model_info": {"id": "mock-small"}},
                {"model_name": "local-*", "litellm_params": {"model": "mock/*"}},
            ],
            "litellm_settings": {"fallbacks": [{"big": ["small"]}]},
            "router_settings": {"num_retries": 0},
        },
    )
    gateway: Gateway = await make_gateway(gateway_config=path)
    return gateway


async def test_the_mock_named_in_the_file_answers_for_a_dead_upstream_without_any_key(
    routed: Gateway, database_url: str
) -> None:
    answer = await routed.post(
        "/v1/chat/completions", json={"model": "big", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert answer.status_code == 200 and answer.headers["x-upstream"] == "mock-small"
    assert answer.json()["model"] == "tiny"
    streamed = await routed.post("/stream?stream_format=sse", json={"prompt": "hi", "model": "local-llama"})
    assert streamed.headers["x-upstream"] == "local-*#2" and '"model":"llama"' in streamed.text
    found = await rows(
        database_url, "SELECT model, upstream, upstream_model, attempts FROM records ORDER BY created_at"
    )
    assert found == [
        {"model": "big", "upstream": "mock-small", "upstream_model": "tiny", "attempts": 2},
        {"model": "local-llama", "upstream": "local-*#2", "upstream_model": "llama", "attempts": 1},
    ]
    record = (await routed.get(f"/history/{answer.headers['x-record-id']}")).json()
    assert (record["upstream"], record["upstream_model"], record["attempts"]) == ("mock-small", "tiny", 2)


async def test_health_lists_every_upstream_and_its_state_never_its_key(routed: Gateway) -> None:
    await routed.post("/v1/chat/completions", json={"model": "big", "messages": [{"role": "user", "content": "hi"}]})
    health = await routed.get("/health")
    assert "sk-never-shown-anywhere" not in health.text and health.json()["llm"] == "openai"
    assert [(u["name"], u["provider"], u["state"]) for u in health.json()["upstreams"]] == [
        ("dead-openai", "openai", "ok"),  # one failure of the three allowed in a row
        ("mock-small", "mock", "ok"),
        ("local-*#2", "mock", "ok"),
    ]


async def test_v1_models_lists_every_routable_model_and_an_unknown_one_is_model_not_found(routed: Gateway) -> None:
    listed = (await routed.get("/v1/models")).json()
    assert [m["id"] for m in listed["data"]] == ["big", "small"]  # the mock of local-* lists no local-… name
    unknown = await routed.post(
        "/v1/chat/completions", json={"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    assert (await routed.get("/v1/models/small")).json()["id"] == "small"
