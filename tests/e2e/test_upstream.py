"""The gateway in a real uvicorn process in front of the project's fake OpenAI server
(bench/fake_openai.py, told what to do through the prompt), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import FakeOpenAI, fetch_record, wait_finished
from tests.servers import UvicornProcess

Start = Callable[..., UvicornProcess]


@pytest.fixture
def start(uvicorn_gateway: Start, fake_openai: FakeOpenAI) -> Start:
    def run(**env: str) -> UvicornProcess:
        values = {"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_MODEL": "gpt-fake"}
        values.update(env)
        return uvicorn_gateway(**values)

    return run


async def post(server: UvicornProcess, prompt: str, fmt: str = "text", **body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        return await client.post(f"/stream?stream_format={fmt}", json={"prompt": prompt, **body})


async def last_record(server: UvicornProcess) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        item: dict[str, Any] = (await client.get("/history", params={"limit": 1})).json()["items"][0]
        return item


async def test_streams_from_the_upstream_with_its_usage_and_the_request_id(
    start: Start, fake_openai: FakeOpenAI
) -> None:
    server = start()
    response = await post(server, "hello [[chunks=4]]", "openai", temperature=0.2, max_tokens=10, system="Be brief.")
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in lines if c["choices"]) == "tok0 tok1 tok2 tok3"
    assert lines[-1]["usage"]["completion_tokens"] == 4
    [seen] = fake_openai.requests()
    assert seen["headers"]["x-request-id"] == response.headers["x-request-id"]
    assert seen["headers"]["authorization"] == "Bearer sk-fake"
    assert seen["body"]["model"] == "gpt-fake" and seen["body"]["temperature"] == 0.2
    assert seen["body"]["max_tokens"] == 10
    assert seen["body"]["stream_options"] == {"include_usage": True}
    assert seen["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    record = await last_record(server)
    assert record["status"] == "complete" and record["usage_estimated"] is False
    assert record["completion_tokens"] == 4


async def test_cookies_the_upstream_sets_are_never_sent_back(start: Start, fake_openai: FakeOpenAI) -> None:
    # OpenAI's answers set Cloudflare cookies; a gateway relaying for many users keeps no session.
    # By host name: aiohttp's default jar would keep a cookie from localhost (not from an IP).
    server = start(OPENAI_BASE_URL=fake_openai.base_url.replace("127.0.0.1", "localhost"))
    for _ in range(2):
        response = await post(server, "hello [[chunks=2 cookie]]")
        assert response.status_code == 200 and response.text == "tok0 tok1"
    first, second = fake_openai.requests()
    assert "cookie" not in first["headers"] and "cookie" not in second["headers"]


async def test_failures_before_the_answer_are_retried(start: Start, fake_openai: FakeOpenAI) -> None:
    server = start()
    response = await post(server, "retry me [[fail=2 status=503]]")
    assert response.status_code == 200 and response.text == "tok0 tok1 tok2 tok3 tok4"
    assert len(fake_openai.requests()) == 3


async def test_an_idle_upstream_connection_is_reused_only_within_openai_keepalive_seconds(
    start: Start, fake_openai: FakeOpenAI
) -> None:
    # Past it the upstream may close the connection just as it is reused (uvicorn-based upstreams
    # close idle ones after 5 s, and aiohttp hands out the oldest idle connection first).
    server = start(OPENAI_KEEPALIVE_SECONDS="0.5")
    for prompt in ("one", "two"):
        assert (await post(server, prompt)).status_code == 200
    await asyncio.sleep(1.0)
    assert (await post(server, "three")).status_code == 200
    first, second, third = (seen["client_port"] for seen in fake_openai.requests())
    assert first == second  # reused at once
    assert third != second  # not after half a second idle


@pytest.mark.parametrize(
    ("directive", "status", "mentions"),
    [
        ("reject=400", 400, "rejected with 400"),
        ("reject=401", 502, "credentials"),
        ("fail=9 status=500", 502, "500"),
        ("fail=9 status=429 retry_after=0", 503, "rate-limiting"),
    ],
)
async def test_refusals_map_to_json_errors_and_leave_an_error_record(
    start: Start, directive: str, status: int, mentions: str
) -> None:
    server = start(OPENAI_MAX_RETRIES="1")
    prompt = f"please [[{directive}]]"
    response = await post(server, prompt)
    assert response.status_code == status
    error = response.json()["error"]
    assert mentions in error["message"] and error["request_id"] == response.headers["x-request-id"]
    if status == 503:
        assert response.headers["retry-after"]
    record = await last_record(server)
    assert record["status"] == "error" and record["prompt"] == prompt and record["error"]


async def test_a_refused_connection_is_502(uvicorn_gateway: Start) -> None:
    from tests.servers import free_port

    server = uvicorn_gateway(
        OPENAI_API_KEY="sk", OPENAI_BASE_URL=f"http://127.0.0.1:{free_port()}/v1", OPENAI_MAX_RETRIES="1"
    )
    response = await post(server, "anyone there?")
    assert response.status_code == 502


async def test_an_upstream_that_never_answers_is_504(start: Start) -> None:
    server = start(OPENAI_CONNECT_DEADLINE="0.5")
    started = time.monotonic()
    response = await post(server, "wait [[hang=5]]")
    assert response.status_code == 504
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("directive", "kind"),
    [
        ("stall=3 at=2", "upstream_timeout"),
        ("drop at=2", "upstream_error"),
        ("malformed at=2", "upstream_error"),
        ("notjson at=2", "upstream_error"),
        ("error_event at=2", "upstream_error"),
    ],
)
async def test_failures_mid_stream_end_with_the_error_ending_and_keep_the_partial_text(
    start: Start, directive: str, kind: str
) -> None:
    server = start(OPENAI_TIMEOUT="0.5")
    response = await post(server, f"go [[chunks=5 {directive}]]", "sse")
    assert response.status_code == 200
    events = response.text.split("\n\n")
    assert events[-2] == "data: [DONE]"
    error = json.loads(events[-3].split("data: ", 1)[1])["error"]
    assert error["type"] == kind
    record = await fetch_record(server.env["DATABASE_URL"], response.headers["x-record-id"])
    assert record["status"] == "error" and record["response"] == "tok0 tok1"


async def test_multibyte_characters_split_on_the_wire_arrive_whole(start: Start) -> None:
    server = start()
    response = await post(server, "unicode [[chunks=6 utf8]]")
    assert response.text == "héllo wörld 🙂 日本語 ça 💡"


async def test_usage_is_estimated_when_the_upstream_sends_none(start: Start) -> None:
    server = start()
    response = await post(server, "count [[chunks=3 no_usage]]", "openai")
    usage = json.loads(response.text.splitlines()[-1])["usage"]
    assert usage["completion_tokens"] == 4  # "tok0 tok1 tok2" is 14 characters
    record = await last_record(server)
    assert record["usage_estimated"] is True and record["status"] == "complete"


async def test_a_client_that_leaves_closes_the_upstream_within_a_second(start: Start, fake_openai: FakeOpenAI) -> None:
    server = start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        async with client.stream("POST", "/stream", json={"prompt": "long [[chunks=200 delay=0.05]]"}) as response:
            record_id = response.headers["x-record-id"]
            async for _ in response.aiter_raw():
                break
            left = time.time()
    record = await wait_finished(server.env["DATABASE_URL"], record_id, within=5)
    assert record["status"] == "cancelled"
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        [seen] = fake_openai.requests()
        if seen["client_left"]:
            break
        await asyncio.sleep(0.05)
    assert seen["client_left"], "the upstream never saw the gateway go away"
    assert seen["client_left_at"] - left < 1.0
