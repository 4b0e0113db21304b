"""Access: API keys and their CLI, per-key isolation, rate limits (memory and Redis), body limits, CORS."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import auth
from gateway.auth import hash_key, new_key
from tests.conftest import Gateway, rows
from tests.servers import UvicornProcess
from tests.test_stream_api import assert_error

ROOT = Path(__file__).resolve().parent.parent
OPERATOR_KEY = "operator-secret-key-0123456789"


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "POSTGRES_", "API_KEY"))}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


async def stored_key(gateway: Gateway, name: str, rate_limit: tuple[int, int] | None = None) -> str:
    key = new_key()
    await gateway.state["store"].create_key(name, hash_key(key), rate_limit)
    return key


@pytest.fixture(autouse=True)
def no_key_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "KEY_CACHE_SECONDS", 0.0)


def test_keys_are_random_and_long() -> None:
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(key.startswith("gw_") and len(key) >= 43 for key in keys)
    assert hash_key("a") == hash_key("a") != hash_key("b")


def test_cli_creates_lists_and_revokes_keys_storing_only_a_hash(database_url: str) -> None:
    created = cli(database_url, "keys", "create", "alice", "--rate-limit", "5/60")
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[0]
    assert created.stdout == key + "\n" and key.startswith("gw_")
    listed = cli(database_url, "keys", "list")
    assert "alice" in listed.stdout and "active" in listed.stdout and "5/60s" in listed.stdout
    assert key not in listed.stdout + listed.stderr
    assert cli(database_url, "keys", "create", "alice").returncode == 1
    dump = repr(asyncio.run(rows(database_url, "SELECT * FROM api_keys")))
    assert key not in dump and hash_key(key) in dump
    assert cli(database_url, "keys", "revoke", "alice").returncode == 0
    assert "revoked" in cli(database_url, "keys", "list").stdout
    assert cli(database_url, "keys", "revoke", "alice").returncode == 1
    bad = cli(database_url, "keys", "create", "bob", "--rate-limit", "lots")
    assert bad.returncode == 2 and "N/SECONDS" in bad.stderr


async def test_without_any_key_the_gateway_is_open(gateway: Gateway) -> None:
    assert (await gateway.get("/history")).status_code == 200
    assert (await gateway.post("/stream", json={"prompt": "hi"})).status_code == 200


async def test_with_an_operator_key_every_route_but_health_metrics_and_page_needs_it(make_gateway: Any) -> None:
    gateway = await make_gateway(api_key=OPERATOR_KEY)
    for method, path in [("GET", "/history"), ("POST", "/stream"), ("GET", "/stream"), ("GET", "/openapi.json")]:
        response = await gateway.request(method, path, params={"prompt": "hi"}, json={"prompt": "hi"})
        assert_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert (await gateway.get("/health")).status_code == 200
    assert (await gateway.get("/metrics")).status_code == 200
    assert_error(await gateway.get("/history", headers={"x-api-key": "wrong"}), 401)
    assert (await gateway.get("/history", headers={"x-api-key": OPERATOR_KEY})).status_code == 200
    assert (await gateway.get("/history", headers={"authorization": f"Bearer {OPERATOR_KEY}"})).status_code == 200


async def test_a_query_key_is_taken_on_get_stream_only(make_gateway: Any) -> None:
    gateway = await make_gateway(api_key=OPERATOR_KEY)
    ok = await gateway.get("/stream", params={"prompt": "hi", "api_key": OPERATOR_KEY})
    assert ok.status_code == 200
    assert_error(await gateway.get("/history", params={"api_key": OPERATOR_KEY}), 401)
    assert_error(await gateway.post("/stream", params={"api_key": OPERATOR_KEY}, json={"prompt": "hi"}), 401)


async def test_stored_keys_work_and_revoked_ones_do_not(gateway: Gateway) -> None:
    key = await stored_key(gateway, "carol")
    assert_error(await gateway.get("/history"), 401)  # a stored key exists: no longer open
    assert (await gateway.get("/history", headers={"x-api-key": key})).status_code == 200
    await gateway.state["store"].revoke_key("carol")
    assert_error(await gateway.get("/history", headers={"x-api-key": key}), 401)
    assert_error(await gateway.get("/history"), 401)  # revoking the last key does not open the gateway


async def test_a_stored_key_sees_only_its_own_records_on_every_route(make_gateway: Any) -> None:
    gateway = await make_gateway(api_key=OPERATOR_KEY)
    alice, bob = await stored_key(gateway, "alice"), await stored_key(gateway, "bob")
    as_alice, as_bob, as_operator = ({"x-api-key": k} for k in (alice, bob, OPERATOR_KEY))
    made = await gateway.post("/stream", json={"prompt": "alice's secret"}, headers=as_alice)
    record_id, conversation = made.headers["x-record-id"], made.headers["x-conversation-id"]
    await gateway.post("/stream", json={"prompt": "bob's question"}, headers=as_bob)

    bob_list = (await gateway.get("/history", headers=as_bob)).json()
    assert [item["prompt"] for item in bob_list["items"]] == ["bob's question"] and bob_list["total"] == 1
    assert_error(await gateway.get(f"/history/{record_id}", headers=as_bob), 404)
    assert_error(await gateway.delete(f"/history/{record_id}", headers=as_bob), 404)
    assert (await gateway.get("/history", params={"conversation_id": conversation}, headers=as_bob)).json()[
        "total"
    ] == 0
    follow_up = {"prompt": "more", "conversation_id": conversation}
    assert_error(await gateway.post("/stream", json=follow_up, headers=as_bob), 404)

    assert (await gateway.get(f"/history/{record_id}", headers=as_alice)).status_code == 200
    assert (await gateway.post("/stream", json=follow_up, headers=as_alice)).status_code == 200
    assert (await gateway.get("/history", headers=as_operator)).json()["total"] == 3
    assert (await gateway.get(f"/history/{record_id}", headers=as_operator)).status_code == 200
    assert (await gateway.delete(f"/history/{record_id}", headers=as_alice)).status_code == 204


async def test_rate_limit_headers_on_keyed_routes_and_429_with_retry_after(make_gateway: Any) -> None:
    gateway = await make_gateway(rate_limit_enabled=True, rate_limit_requests=3, rate_limit_window_seconds=60)
    answers = [await gateway.get("/history") for _ in range(3)]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
    assert all(a.headers["x-ratelimit-limit"] == "3" and 0 < int(a.headers["x-ratelimit-reset"]) <= 60 for a in answers)
    refused = await gateway.post("/stream", json={"prompt": "hi"})
    assert_error(refused, 429)
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert (await gateway.get("/health")).status_code == 200
    assert "x-ratelimit-limit" not in (await gateway.get("/health")).headers
    streamed = await (await make_gateway(rate_limit_enabled=True)).post("/stream", json={"prompt": "hi"})
    assert streamed.headers["x-ratelimit-limit"] == "60"


async def test_a_stored_keys_own_limit_overrides_the_default(make_gateway: Any) -> None:
    gateway = await make_gateway(rate_limit_enabled=True, rate_limit_requests=100, rate_limit_window_seconds=60)
    key = await stored_key(gateway, "tight", (2, 60))
    statuses = [(await gateway.get("/history", headers={"x-api-key": key})).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(make_gateway: Any) -> None:
    untrusting = await make_gateway(rate_limit_enabled=True, rate_limit_requests=1, rate_limit_window_seconds=60)
    first = await untrusting.get("/history", headers={"x-forwarded-for": "10.0.0.1"})
    second = await untrusting.get("/history", headers={"x-forwarded-for": "10.0.0.2"})
    assert (first.status_code, second.status_code) == (200, 429)
    trusting = await make_gateway(
        rate_limit_enabled=True, rate_limit_requests=1, rate_limit_window_seconds=60, trusted_proxies=("127.0.0.1",)
    )
    first = await trusting.get("/history", headers={"x-forwarded-for": "10.0.0.1"})
    second = await trusting.get("/history", headers={"x-forwarded-for": "10.0.0.2"})
    assert (first.status_code, second.status_code) == (200, 200)


async def test_cors_lets_named_origins_in(make_gateway: Any) -> None:
    gateway = await make_gateway(cors_origins=("https://app.example",), api_key=OPERATOR_KEY)
    preflight = await gateway.options(
        "/stream",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "x-api-key, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    denied = await gateway.get("/history", headers={"origin": "https://evil.example", "x-api-key": OPERATOR_KEY})
    assert "access-control-allow-origin" not in denied.headers
    allowed = await gateway.get("/history", headers={"origin": "https://app.example"})
    assert allowed.status_code == 401 and allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()


async def test_no_cors_headers_without_cors_origins(gateway: Gateway) -> None:
    response = await gateway.get("/history", headers={"origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers


def test_keys_never_reach_the_log_or_the_database(
    uvicorn_gateway: Callable[..., UvicornProcess], database_url: str
) -> None:
    created = cli(database_url, "keys", "create", "dave")
    key = created.stdout.splitlines()[0]
    server = uvicorn_gateway(API_KEY=OPERATOR_KEY)
    httpx.get(server.url + "/stream", params={"prompt": "hi", "api_key": key}, timeout=30)
    httpx.get(server.url + "/history", headers={"x-api-key": key + "x"}, timeout=30)
    httpx.get(server.url + "/history", headers={"authorization": f"Bearer {OPERATOR_KEY}"}, timeout=30)
    bad = httpx.get(server.url + "/history", headers={"x-api-key": "not-" + key}, timeout=30)
    server.stop()
    assert key not in bad.text
    log = server.log_text()
    assert key not in log and OPERATOR_KEY not in log and key[3:20] not in log
    access_keys = {json.loads(line).get("key") for line in log.splitlines() if line.startswith("{")}
    assert {"dave", "operator"} <= access_keys
    dump = repr(asyncio.run(rows(database_url, "SELECT * FROM records"))) + repr(
        asyncio.run(rows(database_url, "SELECT * FROM api_keys"))
    )
    assert key not in dump and OPERATOR_KEY not in dump


async def burst(url: str, count: int, headers: dict[str, str] | None = None) -> list[int]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=count)) as client:
        answers = await asyncio.gather(*(client.get(url + "/history", headers=headers) for _ in range(count)))
    return [answer.status_code for answer in answers]


@pytest.mark.parametrize("instances", [1, 2])
async def test_redis_admits_exactly_n_of_five_n_concurrent_requests_across_instances(
    uvicorn_gateway: Callable[..., UvicornProcess], redis_url: str, instances: int
) -> None:
    limit = 10
    env = {"REDIS_URL": redis_url, "RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_REQUESTS": str(limit)}
    servers = [uvicorn_gateway(**env) for _ in range(instances)]
    share = 5 * limit // instances
    results = await asyncio.gather(*(burst(server.url, share) for server in servers))
    statuses = [status for result in results for status in result]
    assert statuses.count(200) == limit, statuses
    assert statuses.count(429) == 5 * limit - limit


async def test_memory_limit_is_exact_under_concurrency(uvicorn_gateway: Callable[..., UvicornProcess]) -> None:
    server = uvicorn_gateway(RATE_LIMIT_ENABLED="true", RATE_LIMIT_REQUESTS="7")
    statuses = await burst(server.url, 35)
    assert statuses.count(200) == 7


async def test_an_in_memory_hit_starts_no_task_and_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # limits' asyncio memory storage expired old entries in a new task with a thread-pool hop on
    # every hit (~150 µs of CPU a request), its synchronous one in a new thread that the hit waited
    # to see started; the gateway's in-memory window does neither, and still forgets old hits.
    import threading

    from gateway import ratelimit

    limiter = ratelimit.Limiter(3, 1)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a rate-limit hit went to a thread")

    monkeypatch.setattr(asyncio, "to_thread", refuse)
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "run_in_executor", refuse)
    monkeypatch.setattr(threading.Thread, "start", refuse)
    tasks_before = len(asyncio.all_tasks())
    decisions = [await limiter.hit("addr:10.0.0.9") for _ in range(4)]
    assert len(asyncio.all_tasks()) == tasks_before
    assert [(d.allowed, d.remaining) for d in decisions] == [(True, 2), (True, 1), (True, 0), (False, 0)]
    assert decisions[-1].reset_seconds == 1
    await asyncio.sleep(1.05)  # the window moves on: the three hits have left it
    assert (await limiter.hit("addr:10.0.0.9")).allowed
    assert len(limiter.storage.events["LIMITER/addr:10.0.0.9/3/1/second"]) == 4  # the sweep is due again in 1 s
    monkeypatch.setattr(ratelimit, "SWEEP_SECONDS", 0.0)
    await asyncio.sleep(1.05)
    await limiter.hit("addr:10.0.0.1")  # any hit asks for the sweep, which runs after it
    await asyncio.sleep(0)
    assert "LIMITER/addr:10.0.0.9/3/1/second" not in limiter.storage.events  # the key too, not an empty list


def test_with_redis_down_the_gateway_limits_per_instance_and_says_so(
    uvicorn_gateway: Callable[..., UvicornProcess],
) -> None:
    from tests.servers import free_port

    server = uvicorn_gateway(
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", RATE_LIMIT_ENABLED="true", RATE_LIMIT_REQUESTS="3"
    )
    started = time.monotonic()
    statuses = [httpx.get(server.url + "/history", timeout=10).status_code for _ in range(4)]
    assert time.monotonic() - started < 5
    assert statuses == [200, 200, 200, 429]
    server.stop()
    assert "Redis is unreachable" in server.log_text()


async def test_a_huge_body_is_refused_without_being_read(uvicorn_gateway: Callable[..., UvicornProcess]) -> None:
    server = uvicorn_gateway()
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /stream HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Content-Length: 104857600\r\n\r\n" + b"x" * 1024
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(100 * 16):
            yield b"x" * 65536

    try:
        async with httpx.AsyncClient(timeout=30) as client:
            streamed = await client.post(
                server.url + "/stream", content=chunks(), headers={"content-type": "application/json"}
            )
        assert streamed.status_code == 413
    except httpx.HTTPError:
        pass  # the server may close the connection while the client is still sending: also a refusal
    assert time.monotonic() - started < 20
    assert server.process is not None
    rss = rss_kb(server.process.pid)
    assert rss < 200 * 1024, f"the gateway grew to {rss} kB"


def rss_kb(pid: int) -> int:
    return int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0])
