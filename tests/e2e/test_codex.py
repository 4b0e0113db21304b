"""OpenAI's Codex CLI (`codex exec`, pinned in tests/clients/cli) through a real gateway, with its default
configuration (a provider whose `base_url` is the gateway's `/v1`, its key variable and
`wire_api = "responses"`; non-essential traffic off): it sends `client_metadata`, a `web_search`
tool and a `namespace` of function tools on every request, and completes a task that runs its
shell tool, against the mock, a chat-completions upstream and an upstream that serves the
Responses API. Both databases."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import SDK_KEY, FakeOpenAI
from tests.e2e.clients import command
from tests.servers import UvicornProcess

CODEX = command("codex")
pytestmark = pytest.mark.skipif(CODEX is None, reason="Codex CLI is not installed (npm ci in tests/clients/cli)")

CONFIG = """
model = "{model}"
model_provider = "gateway"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[model_providers.gateway]
name = "gateway"
base_url = "{url}/v1"
env_key = "GATEWAY_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[features]
plugins = false
unbounded_connection_retries = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
metrics_exporter = "none"
trace_exporter = "none"

[history]
persistence = "none"
"""


@pytest.fixture
def server(uvicorn_gateway: Callable[..., UvicornProcess], fake_openai: FakeOpenAI, tmp_path: Path) -> UvicornProcess:
    def entry(alias: str, model: str, **params: str) -> dict[str, Any]:
        return {"model_name": alias, "litellm_params": {"model": model, **params}, "model_info": {"id": alias}}

    base = {"api_base": fake_openai.base_url, "api_key": "os.environ/FAKE_KEY"}
    entries = [
        entry("codex-mock", "mock/mock-model"),
        entry("codex-chat", "hosted_vllm/fake-large", **base),
        entry("codex-native", "openai/fake-large", **base),
    ]
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump({"model_list": entries}))
    return uvicorn_gateway(API_KEY=SDK_KEY, GATEWAY_CONFIG=str(path), FAKE_KEY="sk-fake", MOCK_DELAY_SECONDS="0")


def codex(server: UvicornProcess, model: str, tmp_path: Path, task: str) -> list[dict[str, Any]]:
    """`codex exec --json` in an empty folder; the events it printed."""
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / "config.toml").write_text(CONFIG.format(model=model, url=server.url))
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CODEX_HOME": str(home), "GATEWAY_API_KEY": SDK_KEY}
    assert CODEX is not None
    done = subprocess.run(
        [CODEX, "exec", "--skip-git-repo-check", "--ephemeral", "--color", "never", "--json", "-C", str(work), task],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def ran_a_command_then_answered(events: list[dict[str, Any]]) -> None:
    items = [event["item"] for event in events if event.get("type") == "item.completed"]
    kinds = [item.get("type") for item in items]
    assert "command_execution" in kinds and kinds[-1] == "agent_message", kinds
    assert items[-1].get("text")


def responses(server: UvicornProcess) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(server.url + "/history?limit=10", headers={"x-api-key": SDK_KEY}).json()[
        "items"
    ]
    return [item for item in found[::-1] if item["stream_format"] == "responses"]


@pytest.mark.parametrize("model", ["codex-mock", "codex-chat"])
def test_codex_completes_a_shell_task_over_a_chat_upstream(model: str, server: UvicornProcess, tmp_path: Path) -> None:
    task = "Run a shell command that prints hello, then say done [[tool=exec_command]]"
    ran_a_command_then_answered(codex(server, model, tmp_path, task))
    made = responses(server)  # Codex sends store: false: the records keep their usage and what was left out
    assert len(made) == 2 and all(r["status"] == "complete" and r["redacted_at"] for r in made)
    assert {"client_metadata", "tools:web_search"} <= set(made[0]["left_out"])
    assert made[0]["finish_reason"] == "tool_calls" and made[1]["completion_tokens"]


def test_codex_completes_a_shell_task_over_a_responses_upstream(
    server: UvicornProcess, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    task = "Run a shell command that prints hello [[tool=exec_command]]"
    ran_a_command_then_answered(codex(server, "codex-native", tmp_path, task))
    sent = [entry for entry in fake_openai.requests() if entry.get("path") == "/v1/responses"]
    assert len(sent) == 2 and not any(entry["state_used"] for entry in sent)
    first, second = (entry["body"] for entry in sent)
    assert first["client_metadata"] and any(tool["type"] == "web_search" for tool in first["tools"])
    assert any(tool["type"] == "namespace" for tool in first["tools"])  # as Codex sent them
    assert any(item.get("type") == "function_call_output" for item in second["input"])
    made = responses(server)
    assert len(made) == 2 and made[0]["left_out"] is None and made[0]["finish_reason"] == "tool_calls"
