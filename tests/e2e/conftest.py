"""The end-to-end tests' gateways in front of more than one upstream: Claude at the fake Anthropic
upstream, a GPT at the fake OpenAI one, and the mock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import SDK_KEY, FakeOpenAI
from tests.servers import UvicornProcess

CLAUDE = "claude-sonnet-4-5"


def config(tmp_path: Path, anthropic_url: str, openai_url: str) -> Path:
    """Claude at the fake Anthropic upstream, a GPT at the fake OpenAI one, and the mock."""
    entries = [
        {
            "model_name": CLAUDE,
            "litellm_params": {
                "model": f"anthropic/{CLAUDE}",
                "api_key": "os.environ/CLAUDE_KEY",
                "api_base": anthropic_url,
            },
            "model_info": {"id": "claude-upstream"},
        },
        {
            "model_name": "gpt-fake",
            "litellm_params": {"model": "openai/fake-large", "api_key": "os.environ/GPT_KEY", "api_base": openai_url},
            "model_info": {"id": "gpt-upstream"},
        },
        {"model_name": "mocked", "litellm_params": {"model": "mock/mock-model"}},
    ]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"model_list": entries}))
    return path


@pytest.fixture
def anthropic_url(fake_anthropic_server: UvicornProcess) -> str:
    httpx.post(fake_anthropic_server.url + "/_reset")
    return fake_anthropic_server.url


@pytest.fixture
def claude_gateway(
    uvicorn_gateway: Callable[..., UvicornProcess], anthropic_url: str, fake_openai: FakeOpenAI, tmp_path: Path
) -> UvicornProcess:
    """A gateway (both databases) with the three upstreams of `config`, keys on."""
    path = config(tmp_path, anthropic_url, fake_openai.base_url)
    return uvicorn_gateway(
        API_KEY=SDK_KEY,
        GATEWAY_CONFIG=str(path),
        CLAUDE_KEY="sk-ant-upstream",
        GPT_KEY="sk-gpt",
        MOCK_DELAY_SECONDS="0",
    )
