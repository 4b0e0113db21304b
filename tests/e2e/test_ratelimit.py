"""Rate limits through real uvicorn processes: exact under concurrency in memory and in Redis
across instances; per instance, and said so, while Redis is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from tests.servers import UvicornProcess, free_port

pytestmark = pytest.mark.usefixtures("no_key_cache")


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


def test_with_redis_down_the_gateway_limits_per_instance_and_says_so(
    uvicorn_gateway: Callable[..., UvicornProcess],
) -> None:
    server = uvicorn_gateway(
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", RATE_LIMIT_ENABLED="true", RATE_LIMIT_REQUESTS="3"
    )
    started = time.monotonic()
    statuses = [httpx.get(server.url + "/history", timeout=10).status_code for _ in range(4)]
    assert time.monotonic() - started < 5
    assert statuses == [200, 200, 200, 429]
    server.stop()
    assert "Redis is unreachable" in server.log_text()
