"""Routing across three fake upstreams (real processes) behind a real gateway: weights hold,
an upstream killed under load costs no new request, a 429 with Retry-After keeps traffic away for
that long (on every instance, through Redis), a fallback model answers when its first model's
upstreams are all down, and a bad request is not retried."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import rows
from tests.servers import UvicornProcess, free_port

Start = Callable[..., UvicornProcess]


def count(fake: UvicornProcess) -> int:
    return len(httpx.get(fake.url + "/_requests").json())


def sicken(fake: UvicornProcess, **mode: Any) -> None:
    """Every chat completion the fake is sent gets this answer, whatever the prompt."""
    httpx.post(fake.url + "/_mode", json=mode)


def entry(name: str, alias: str, base: str, weight: float = 1, model: str = "fake-large") -> dict[str, Any]:
    params = {"model": f"hosted_vllm/{model}", "api_base": base + "/v1", "weight": weight}
    return {"model_name": alias, "litellm_params": params, "model_info": {"id": name}}


def gateway(start: Start, tmp_path: Path, entries: list[dict[str, Any]], **extra: Any) -> UvicornProcess:
    path = tmp_path / f"config-{len(list(tmp_path.glob('config-*')))}.yaml"
    path.write_text(yaml.safe_dump({"model_list": entries, **extra}))
    return start(GATEWAY_CONFIG=str(path), OPENAI_CONNECT_DEADLINE="10")


async def ask(client: httpx.AsyncClient, server: UvicornProcess, model: str = "m", **body: Any) -> httpx.Response:
    payload = {"model": model, "messages": [{"role": "user", "content": "hi"}], **body}
    return await client.post(server.url + "/v1/chat/completions", json=payload)


async def many(server: UvicornProcess, total: int, concurrency: int = 50, **body: Any) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> httpx.Response:
            async with gate:
                return await ask(client, server, **body)

        return await asyncio.gather(*(one() for _ in range(total)))


async def test_weights_share_the_traffic_within_a_few_per_cent(
    uvicorn_gateway: Start, upstreams: list[UvicornProcess], tmp_path: Path
) -> None:
    a, b, c = upstreams
    server = gateway(
        uvicorn_gateway, tmp_path, [entry("a", "m", a.url), entry("b", "m", b.url), entry("c", "m", c.url, 2)]
    )
    answers = await many(server, 1000)
    assert {answer.status_code for answer in answers} == {200}
    shares = [count(fake) / 1000 for fake in upstreams]
    assert abs(shares[0] - 0.25) < 0.05 and abs(shares[1] - 0.25) < 0.05 and abs(shares[2] - 0.5) < 0.05, shares
    assert {answer.headers["x-upstream"] for answer in answers} == {"a", "b", "c"}


async def test_an_upstream_killed_under_a_hundred_streams_costs_no_new_request(
    uvicorn_gateway: Start, upstreams: list[UvicornProcess], tmp_path: Path
) -> None:
    doomed = UvicornProcess("bench.fake_openai:app", free_port(), {}, tmp_path / "doomed.log")
    doomed.start()
    a, b, _ = upstreams
    server = gateway(
        uvicorn_gateway, tmp_path, [entry("a", "m", a.url), entry("b", "m", b.url), entry("doomed", "m", doomed.url)]
    )
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as client:
        streams = [
            asyncio.ensure_future(
                client.post(server.url + "/stream", json={"prompt": "[[chunks=20 delay=0.05]]", "model": "m"})
            )
            for _ in range(100)
        ]
        await asyncio.sleep(0.4)
        doomed.stop()  # SIGTERM, then gone: its port refuses every new connection
        fresh = await asyncio.gather(*(ask(client, server) for _ in range(60)))
        await asyncio.gather(*streams)
    assert [answer.status_code for answer in fresh] == [200] * 60
    assert "doomed" not in {answer.headers["x-upstream"] for answer in fresh[10:]}


async def test_a_429_with_retry_after_keeps_the_traffic_away_for_that_long(
    uvicorn_gateway: Start, upstreams: list[UvicornProcess], tmp_path: Path
) -> None:
    sick, well, _ = upstreams
    sicken(sick, reject=429, retry_after=2)
    server = gateway(uvicorn_gateway, tmp_path, [entry("sick", "m", sick.url, 1000), entry("well", "m", well.url)])
    async with httpx.AsyncClient(timeout=30) as client:
        first = await ask(client, server)
        assert first.status_code == 200 and first.headers["x-upstream"] == "well" and count(sick) == 1
        health = (await client.get(server.url + "/health")).json()
        assert {u["name"]: u["state"] for u in health["upstreams"]} == {"sick": "cooling", "well": "ok"}
        started = time.monotonic()
        while time.monotonic() - started < 1.5:
            assert (await ask(client, server)).headers["x-upstream"] == "well"
            await asyncio.sleep(0.05)
        assert count(sick) == 1  # no traffic while it cools down
        await asyncio.sleep(0.7)
        assert (await ask(client, server)).status_code == 200
        assert count(sick) == 2  # one probe once the two seconds are over
        metrics = (await client.get(server.url + "/metrics")).text
    assert 'gateway_upstream_attempts_total{result="upstream_rate_limited",upstream="sick"} 2.0' in metrics


async def test_a_fallback_model_answers_when_every_upstream_of_the_first_is_down(
    uvicorn_gateway: Start, upstreams: list[UvicornProcess], tmp_path: Path, database_url: str
) -> None:
    down = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
    entries = [
        entry("big-1", "big", down[0]),
        entry("big-2", "big", down[1]),
        entry("small-1", "small", upstreams[0].url, model="fake-small"),
    ]
    server = gateway(uvicorn_gateway, tmp_path, entries, litellm_settings={"fallbacks": [{"big": ["small"]}]})
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await ask(client, server, model="big", stream=True)
    assert answer.status_code == 200 and answer.headers["x-upstream"] == "small-1"
    assert '"model":"fake-small"' in answer.text and answer.text.endswith("data: [DONE]\n\n")
    (record,) = await rows(database_url, "SELECT model, upstream, upstream_model, attempts, status FROM records")
    assert record == {
        "model": "big",
        "upstream": "small-1",
        "upstream_model": "fake-small",
        "attempts": 3,
        "status": "complete",
    }


async def test_a_bad_request_is_not_tried_elsewhere_and_an_unknown_model_is_404(
    uvicorn_gateway: Start, upstreams: list[UvicornProcess], tmp_path: Path
) -> None:
    strict, other, _ = upstreams
    sicken(strict, reject=400)
    server = gateway(
        uvicorn_gateway, tmp_path, [entry("strict", "m", strict.url, 1000), entry("other", "m", other.url)]
    )
    async with httpx.AsyncClient(timeout=30) as client:
        refused = await ask(client, server)
        unknown = await ask(client, server, model="no-such-model")
    assert refused.status_code == 400 and count(strict) == 1 and count(other) == 0
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"


async def test_with_redis_a_cool_down_holds_on_every_instance(
    uvicorn_gateway: Start, upstreams: list[UvicornProcess], tmp_path: Path, redis_url: str
) -> None:
    sick, well, _ = upstreams
    sicken(sick, reject=503, retry_after=5)
    entries = [entry("sick", "m", sick.url, 1000), entry("well", "m", well.url)]
    path = tmp_path / "shared.yaml"
    path.write_text(yaml.safe_dump({"model_list": entries}))
    one, two = (uvicorn_gateway(GATEWAY_CONFIG=str(path), REDIS_URL=redis_url) for _ in range(2))
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await ask(client, one)).headers["x-upstream"] == "well"
        await asyncio.sleep(1.3)  # each instance reads the others' cool-downs once a second
        assert (await ask(client, two)).headers["x-upstream"] == "well"
    assert count(sick) == 1
