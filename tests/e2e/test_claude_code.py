"""Claude Code itself (`claude -p`, the CLI pinned in tests/clients/cli) through a real gateway: a small task
that needs its Bash tool, against the fake Anthropic upstream (the request and its events passed
as they are, the tool run, its result sent back) and against the mock (the same loop translated to
chat completions). Non-essential traffic off, state in a temporary home. Both databases."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SDK_KEY
from tests.e2e.clients import command
from tests.e2e.conftest import CLAUDE
from tests.servers import UvicornProcess

CLAUDE_BIN = command("claude")
pytestmark = pytest.mark.skipif(CLAUDE_BIN is None, reason="Claude Code is not installed (npm ci in tests/clients/cli)")


@pytest.fixture
def server(claude_gateway: UvicornProcess) -> UvicornProcess:
    return claude_gateway


def claude(server: UvicornProcess, work: Path, model: str, task: str) -> dict[str, Any]:
    """`claude -p` in `work`, as a user runs it with the gateway as its base URL; its JSON result."""
    home = work.parent / "home"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "TMPDIR": str(home / "tmp"),
        "CLAUDE_CODE_TMPDIR": str(home / "tmp"),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "ANTHROPIC_BASE_URL": server.url,
        "ANTHROPIC_API_KEY": SDK_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_MAX_RETRIES": "1",
    }
    assert CLAUDE_BIN is not None
    done = subprocess.run(
        [CLAUDE_BIN, "-p", task, "--allowedTools", "Bash", "--output-format", "json", "--model", model],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def records(server: UvicornProcess) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(server.url + "/history?limit=20", headers={"x-api-key": SDK_KEY}).json()[
        "items"
    ]
    return found[::-1]


def test_claude_code_runs_a_bash_task_through_the_gateway_to_an_anthropic_upstream(
    server: UvicornProcess, fake_anthropic_server: UvicornProcess, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    task = "Create out.txt containing hi using bash [[tools tool=Bash input=echo+hi+>+out.txt]]"
    result = claude(server, work, CLAUDE, task)
    assert result["is_error"] is False and result["num_turns"] == 2 and result["result"]
    assert (work / "out.txt").read_text() == "hi\n"
    sent = [r for r in httpx.get(fake_anthropic_server.url + "/_requests").json() if r["path"] == "/v1/messages"]
    assert len(sent) == 2 and sent[0]["body"]["stream"] is True
    returned = [m for m in sent[1]["body"]["messages"] if m["role"] == "user"][-1]["content"]
    assert any(block.get("type") == "tool_result" for block in returned)
    first, second = [r for r in records(server) if r["stream_format"] == "messages"][-2:]
    assert first["tool_calls"][0]["function"]["name"] == "Bash" and first["finish_reason"] == "tool_calls"
    assert second["status"] == "complete" and second["upstream"] == "claude-upstream"


def test_claude_code_runs_its_tool_loop_against_the_mock(server: UvicornProcess, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    result = claude(server, work, "mocked", "List the files here using bash")
    assert result["is_error"] is False and result["num_turns"] >= 2 and result["result"]
    made = [r for r in records(server) if r["stream_format"] == "messages"]
    assert made[0]["tool_calls"] and made[0]["upstream"] == "mocked#2"
    assert made[-1]["status"] == "complete" and made[-1]["response"]
