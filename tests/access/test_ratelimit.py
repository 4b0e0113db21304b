"""Rate limits through the app: headers on every keyed route and 429 with Retry-After; a stored
key's own limit; per client address when open (X-Forwarded-For only behind a trusted proxy)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from limits import RateLimitItemPerSecond

from gateway.access import ratelimit
from tests.conftest import assert_error, stored_key

pytestmark = pytest.mark.usefixtures("no_key_cache")


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


async def test_an_in_memory_hit_needs_no_task_nor_thread_pool_and_old_identities_are_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # limits' asyncio memory storage expires old entries in a new task with a thread-pool hop on
    # every hit; the gateway uses its synchronous storage from the event loop instead.
    limiter = ratelimit.Limiter(3, 1)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a rate-limit hit went to a thread pool")

    monkeypatch.setattr(asyncio, "to_thread", refuse)
    monkeypatch.setattr(asyncio.get_running_loop(), "run_in_executor", refuse)
    tasks_before = len(asyncio.all_tasks())
    decisions = [await limiter.hit("addr:10.0.0.9") for _ in range(4)]
    assert len(asyncio.all_tasks()) == tasks_before
    assert [(d.allowed, d.remaining) for d in decisions] == [(True, 2), (True, 1), (True, 0), (False, 0)]
    assert decisions[-1].reset_seconds == 1
    await asyncio.sleep(1.05)  # the window moves on: the three hits have left it
    assert (await limiter.hit("addr:10.0.0.9")).allowed
    limiter.forget(time.monotonic() + 1.1)  # a sweep once that hit has left its window too
    assert "addr:10.0.0.9" not in limiter.recent
    item = RateLimitItemPerSecond(3, 1)
    assert limiter.local.get_window_stats(item, "addr:10.0.0.9").remaining == 3  # cleared from the storage
