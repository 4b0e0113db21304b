"""The Vercel AI SDK's default OpenAI provider (`openai(model)`: the Responses API with `store` on,
pinned in tests/clients/ai-sdk) through a real gateway: a five-turn conversation, its earlier
answers sent back as `item_reference`s, with `generateText` and `streamText`, then a tool round
trip, against the mock and a chat-completions upstream. Both databases."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SDK_KEY, FakeOpenAI
from tests.servers import UvicornProcess

CLIENT = Path(__file__).resolve().parent.parent / "clients" / "ai-sdk"
NODE = shutil.which("node")
READY = NODE is not None and (CLIENT / "node_modules" / "ai").is_dir()
if not READY and os.environ.get("CI") == "true":
    raise RuntimeError("the AI SDK is not installed: .ci/run installs it (npm ci in tests/clients/ai-sdk)")
pytestmark = pytest.mark.skipif(not READY, reason="the AI SDK is not installed (npm ci in tests/clients/ai-sdk)")


def converse(server: UvicornProcess, model: str) -> list[dict[str, Any]]:
    """The conversation's turns, as the script printed them."""
    assert NODE is not None
    env = {"PATH": os.environ["PATH"], "BASE_URL": server.url + "/v1", "API_KEY": SDK_KEY, "MODEL": model}
    done = subprocess.run([NODE, "conversation.mjs"], cwd=CLIENT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_a_five_turn_conversation_with_the_mock_sends_earlier_answers_by_reference(mock_server: UvicornProcess) -> None:
    turns = converse(mock_server, "gpt-4.1-mini")
    assert [turn["turn"] for turn in turns] == [1, 2, 3, 4, 5, "tool"]
    assert all(turn["text"] for turn in turns) and turns[-1]["steps"] == 2  # the tool ran, then the answer
    made = httpx.get(mock_server.url + "/history?limit=20", headers={"x-api-key": SDK_KEY}).json()["items"]
    assert len([r for r in made if r["stream_format"] == "responses"]) == 7


def test_a_chat_upstream_is_sent_each_earlier_answer_the_sdk_referred_to(
    uvicorn_gateway: Callable[..., UvicornProcess], fake_openai: FakeOpenAI
) -> None:
    server = uvicorn_gateway(API_KEY=SDK_KEY, OPENAI_API_KEY="sk-fake", OPENAI_BASE_URL=fake_openai.base_url)
    turns = converse(server, "gpt-4.1-mini")
    assert len(turns) == 6
    chats = [entry["body"]["messages"] for entry in fake_openai.requests() if "messages" in entry["body"]]
    fifth = chats[4]
    assert [m["role"] for m in fifth] == ["user", "assistant"] * 4 + ["user"]
    assert fifth[1]["content"] == [{"type": "text", "text": turns[0]["text"]}]  # turn 1's answer, by reference
