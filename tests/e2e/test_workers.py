"""Several processes behave as one gateway, as two workers on one port (`gateway serve` with
WEB_CONCURRENCY=2, what the image runs) and as two instances on two ports (two dynos), on
PostgreSQL and Redis: a rate limit exact, a stream resumed on the other process, a cool-down
started by one kept by the other, a revoked key refused by both within KEY_CACHE_SECONDS,
metrics merged, and a SIGTERM that ends both cleanly with every record ended.

Budgets (per-key spend limits) belong here too once they exist: a key's budget spent through both
processes at once must stop it exactly, as `test_a_rate_limit_is_exact_across_both` does for the
rate limit.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.access.auth import KEY_CACHE_SECONDS
from gateway.streams.ending import SHUTDOWN_CUT
from tests.conftest import cli, fetch_record, rows
from tests.e2e.test_resume import Events, read
from tests.e2e.test_router import count, entry, sicken
from tests.servers import GatewayServe, UvicornProcess, free_port, serving_pid

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
OPERATOR = {"X-API-Key": "operator-key-for-the-workers-tests-0123"}


@dataclass
class Deployment:
    kind: str  # "workers": two workers on one port; "instances": two processes on two ports
    processes: list[UvicornProcess]

    def pids(self) -> list[int]:
        first = self.processes[0]
        if isinstance(first, GatewayServe):
            return first.worker_pids()
        return [p.process.pid for p in self.processes if p.process is not None]

    @asynccontextmanager
    async def client(self, index: int, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
        """A client whose connection the `index`th process serves (with workers, connections are
        opened until the kernel hands one to that worker)."""
        process = self.processes[index if self.kind == "instances" else 0]
        wanted = self.pids()[index]
        for _ in range(200):
            client = httpx.AsyncClient(
                base_url=process.url, timeout=30, limits=httpx.Limits(max_connections=1), headers=headers
            )
            probe = await client.get("/health")
            port = probe.extensions["network_stream"].get_extra_info("client_addr")[1]
            if serving_pid(process.port, port, self.pids()) == wanted:
                try:
                    yield client
                finally:
                    await client.aclose()
                return
            await client.aclose()
        raise AssertionError(f"no connection reached worker {wanted}")

    def terminate(self) -> None:
        for process in self.processes:
            process.signal(signal.SIGTERM)


@pytest.fixture(params=["workers", "instances"])
def deploy(
    request: pytest.FixtureRequest, database_url: str, redis_url: str, tmp_path: Path
) -> Iterator[Callable[..., Deployment]]:
    started: list[UvicornProcess] = []

    def start(**env: str) -> Deployment:
        environment = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "API_KEY": OPERATOR["X-API-Key"],
            "RATE_LIMIT_ENABLED": "false",
            "MOCK_DELAY_SECONDS": "0.03",
            "LOG_JSON": "true",
            **env,
        }
        if request.param == "workers":
            processes: list[UvicornProcess] = [GatewayServe(free_port(), environment, tmp_path / "serve.log", 2)]
        else:
            processes = [
                UvicornProcess("gateway.app:app", free_port(), environment, tmp_path / f"instance-{i}.log")
                for i in range(2)
            ]
        for process in processes:
            started.append(process)
            process.start()
        deployment = Deployment(request.param, processes)
        assert len(deployment.pids()) == 2
        return deployment

    yield start
    for process in started:
        process.stop()


async def test_a_rate_limit_is_exact_across_both(deploy: Callable[..., Deployment]) -> None:
    deployment = deploy(RATE_LIMIT_ENABLED="true", RATE_LIMIT_REQUESTS="10")
    urls = [process.url for process in deployment.processes] * (2 // len(deployment.processes))
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50), headers=OPERATOR) as client:
        answers = await asyncio.gather(*(client.get(urls[i % 2] + "/history") for i in range(50)))
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == 10 and statuses.count(429) == 40, statuses


async def test_a_stream_is_resumed_on_the_other_process(deploy: Callable[..., Deployment], database_url: str) -> None:
    deployment = deploy()
    params = {"prompt": "Describe the rings of Saturn", "stream_format": "sse", "on_disconnect": "detach"}
    events = Events()
    async with deployment.client(0, **OPERATOR) as first:
        async with first.stream("GET", "/stream", params=params) as response:
            record_id = response.headers["x-record-id"]
            await read(response, events, stop_after=4)
    await asyncio.sleep(0.6)  # a checkpoint on the first process
    async with deployment.client(1, **OPERATOR) as second:
        async with second.stream("GET", "/stream", headers={"last-event-id": str(events.last_id)}) as followed:
            assert followed.status_code == 200
            await read(followed, events)
    assert events.done and not events.errors
    record = await fetch_record(database_url, record_id)
    assert record["status"] == "complete" and events.text == record["response"]
    offsets = [int(i.rsplit(":", 1)[1]) for i in events.ids]
    assert offsets == sorted(offsets)


async def test_a_cool_down_started_by_one_is_kept_by_the_other(
    deploy: Callable[..., Deployment], upstreams: list[UvicornProcess], tmp_path: Path
) -> None:
    sick, well, _ = upstreams
    sicken(sick, reject=503, retry_after=5)
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump({"model_list": [entry("sick", "m", sick.url, 1000), entry("well", "m", well.url)]}))
    deployment = deploy(GATEWAY_CONFIG=str(path))
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with deployment.client(0, **OPERATOR) as first:
        assert (await first.post("/v1/chat/completions", json=body)).headers["x-upstream"] == "well"
    assert count(sick) == 1
    await asyncio.sleep(1.3)  # each process reads the others' cool-downs once a second
    async with deployment.client(1, **OPERATOR) as second:
        assert (await second.post("/v1/chat/completions", json=body)).headers["x-upstream"] == "well"
    assert count(sick) == 1, "the other process asked the upstream that was cooling down"


async def test_a_revoked_key_is_refused_by_both_within_the_key_cache_time(
    deploy: Callable[..., Deployment], database_url: str
) -> None:
    deployment = deploy()
    key = cli(database_url, "keys", "create", "alice").stdout.splitlines()[0]
    for index in (0, 1):  # each process looks the key up, and caches it
        async with deployment.client(index, **{"X-API-Key": key}) as client:
            assert (await client.get("/history")).status_code == 200
    assert cli(database_url, "keys", "revoke", "alice").returncode == 0
    await asyncio.sleep(KEY_CACHE_SECONDS + 0.5)
    for index in (0, 1):
        async with deployment.client(index, **{"X-API-Key": key}) as client:
            assert (await client.get("/history")).status_code == 401, f"process {index} still admits the key"


async def test_metrics_from_either_process_of_one_port_count_both(deploy: Callable[..., Deployment]) -> None:
    deployment = deploy()
    for index in (0, 1):
        async with deployment.client(index, **OPERATOR) as client:
            for _ in range(3):
                assert (await client.get("/history")).status_code == 200
    for index in (0, 1):
        async with deployment.client(index) as client:
            text = (await client.get("/metrics")).text
        line = next(
            line for line in text.splitlines() if line.startswith("gateway_requests_total{") and "/history" in line
        )
        expected = 6 if deployment.kind == "workers" else 3  # two instances are scraped one by one
        assert float(line.rsplit(" ", 1)[1]) == expected, line


async def test_sigterm_ends_both_cleanly_and_every_record(deploy: Callable[..., Deployment], database_url: str) -> None:
    deployment = deploy(MOCK_DELAY_SECONDS="0.1", GRACEFUL_SECONDS="1")
    streaming: list[asyncio.Event] = [asyncio.Event() for _ in range(4)]
    bodies: list[bytes] = [b""] * 4

    async def consume(index: int) -> None:
        async with deployment.client(index % 2, **OPERATOR) as client:
            try:
                async with client.stream("POST", "/stream", json={"prompt": f"a long answer {index}"}) as response:
                    async for part in response.aiter_raw():
                        bodies[index] += part
                        streaming[index].set()
            except httpx.HTTPError:
                pass

    tasks = [asyncio.create_task(consume(i)) for i in range(4)]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in streaming)), 30)
    deployment.terminate()
    codes = [await asyncio.to_thread(process.wait, 15) for process in deployment.processes]
    await asyncio.gather(*tasks)
    # uvicorn ends with the signal it handled (raised again once it has shut down), its supervisor with 0
    assert set(codes) <= {0, -signal.SIGTERM} and all(bodies), codes
    records = await rows(database_url, "SELECT status, error, response FROM records")
    assert len(records) == 4
    assert all(r["status"] == "error" and SHUTDOWN_CUT in r["error"] and r["response"] for r in records), records
