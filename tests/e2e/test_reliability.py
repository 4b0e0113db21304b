"""Reliability, against a real uvicorn, the fake upstream, and the real PostgreSQL: clients that
leave at any point, upstream faults, a database restart, SIGTERM under load, hostile input.

Bounded for `make test`; `make soak` sets SOAK=1 for the long version and prints the figures
each test records in tests/artifacts/soak.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from gateway import inputs
from gateway.streams.ending import SHUTDOWN_UNANSWERED
from tests.conftest import IN_CI, FakeOpenAI, Gateway, pg_admin, rows
from tests.servers import CuttingProxy, UvicornProcess, free_port

SOAK = os.environ.get("SOAK") == "1"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
Start = Callable[..., UvicornProcess]


def record_figures(name: str, **figures: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "soak.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known[name] = figures
    path.write_text(json.dumps(known, indent=2))


def proc_figures(pid: int) -> tuple[int, int]:
    """(RSS in kB, open file descriptors) of a process."""
    rss = int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0])
    return rss, len(list(Path(f"/proc/{pid}/fd").iterdir()))


async def leaving_client(port: int, request_id: str, prompt: str, leave: str, rng: random.Random) -> bytes:
    """One raw HTTP client that leaves at a chosen point; returns the body bytes it received."""
    body = json.dumps({"prompt": prompt}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST /stream HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\nX-Request-ID: {request_id}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    received = b""
    try:
        if leave == "before_headers":
            return received
        head = await reader.readuntil(b"\r\n\r\n")
        if leave == "after_headers" or b" 200 " not in head.split(b"\r\n")[0]:
            return received
        # Chunked body: read chunk by chunk, stopping at a random point (or near the end).
        stop_after = rng.randint(1, 30) if leave == "mid_stream" else 10**9
        chunks = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.strip(), 16)
            if size == 0:
                return received
            data = await reader.readexactly(size + 2)
            received += data[:-2]
            chunks += 1
            if leave == "last_chunk" and b"tok38" in received:
                return received  # the answer's last token has arrived: leave before the end
            if chunks >= stop_after:
                return received
    except (asyncio.IncompleteReadError, ConnectionError):
        return received
    finally:
        writer.transport.abort()


async def test_clients_leaving_at_random_points_lose_nothing_and_leak_nothing(
    uvicorn_gateway: Start, fake_openai: FakeOpenAI, database_url: str
) -> None:
    count = 500 if SOAK else 60
    server = uvicorn_gateway(OPENAI_API_KEY="sk", OPENAI_BASE_URL=fake_openai.base_url)
    assert server.process is not None
    # Warm up at the storm's concurrency (the upstream keep-alive pool fills), then take the baseline.
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=100)) as client:
        await asyncio.gather(
            *(
                client.post(server.url + "/stream", json={"prompt": f"warm {i} [[chunks=20 delay=0.01]]"})
                for i in range(100)
            )
        )
    await asyncio.sleep(0.5)
    rss_before, fds_before = proc_figures(server.process.pid)
    rng = random.Random(20261127)
    plan = [rng.choice(["before_headers", "after_headers", "mid_stream", "last_chunk", "stay"]) for _ in range(count)]
    received: dict[str, bytes] = {}

    async def one(index: int) -> None:
        request_id = f"storm-{index}"
        prompt = f"storm {index} [[chunks=40 delay=0.01]]"
        received[request_id] = await leaving_client(server.port, request_id, prompt, plan[index], rng)

    for start in range(0, count, 100):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + 100))))
    await asyncio.sleep(2.0)  # let the last cancellations finish their writes

    records = await rows(
        database_url, "SELECT request_id, status, response FROM records WHERE substr(request_id, 1, 6) = 'storm-'"
    )
    assert records, "no stream started at all"
    for record in records:
        assert record["status"] in ("cancelled", "complete"), record
        got = received[record["request_id"]].decode(errors="replace")
        assert record["response"].startswith(got), (record, got)
    statuses = [record["status"] for record in records]
    seen = [r for r in fake_openai.requests() if "storm" in json.dumps(r["body"])]
    assert all(r["completed"] or r["client_left"] for r in seen), "an upstream request was left open"
    rss_after, fds_after = proc_figures(server.process.pid)
    assert fds_after <= fds_before + 10, (fds_before, fds_after)
    assert rss_after <= rss_before + 40 * 1024, (rss_before, rss_after)
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(server.url + "/metrics")).text
    assert "gateway_active_streams 0.0" in metrics
    record_figures(
        "disconnects",
        streams_tried=count,
        records=len(records),
        complete=statuses.count("complete"),
        cancelled=statuses.count("cancelled"),
        upstream_requests=len(seen),
        upstream_left_open=0,
        rss_kb_before=rss_before,
        rss_kb_after=rss_after,
        fds_before=fds_before,
        fds_after=fds_after,
        records_lost=0,
    )


@pytest.mark.parametrize(
    ("directive", "kind"),
    [("truncated_utf8 at=2", "upstream_error"), ("chunks=100000 delay=0.001", "stream_too_long")],
)
async def test_a_truncated_character_and_an_endless_stream_end_with_an_error(
    uvicorn_gateway: Start, fake_openai: FakeOpenAI, directive: str, kind: str
) -> None:
    server = uvicorn_gateway(
        OPENAI_API_KEY="sk", OPENAI_BASE_URL=fake_openai.base_url, MAX_STREAM_SECONDS="1", OPENAI_TIMEOUT="2"
    )
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{server.url}/stream?stream_format=openai", json={"prompt": f"x [[{directive}]]"})
        last = json.loads(response.text.splitlines()[-1])
        assert last["error"]["type"] == kind
        record = (await client.get(server.url + "/history")).json()["items"][0]
    assert record["status"] == "error" and record["response"]
    assert "\ufffd" not in record["response"]


async def test_a_slow_body_is_cut_off_with_408(make_gateway: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "BODY_SECONDS", 0.3)
    gateway: Gateway = await make_gateway()

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(10):
            await asyncio.sleep(0.1)
            yield b"x"
        yield b'"}'

    response = await gateway.post("/stream", content=trickle(), headers={"content-type": "application/json"})
    assert response.status_code == 408 and response.json()["error"]["type"] == "request_timeout"


async def test_sigterm_with_a_hundred_streams_finalises_every_record_within_the_grace_period(
    uvicorn_gateway: Start, database_url: str
) -> None:
    server = uvicorn_gateway(MOCK_DELAY_SECONDS="0.1", GRACEFUL_SECONDS="2")
    finished: list[bytes] = []
    streaming = 0
    all_streaming = asyncio.Event()

    async def consume(client: httpx.AsyncClient, index: int) -> None:
        nonlocal streaming
        body = b""
        try:
            async with client.stream("POST", "/stream", json={"prompt": f"long answer {index}"}) as response:
                async for part in response.aiter_raw():
                    if not body:
                        streaming += 1
                        if streaming == 100:
                            all_streaming.set()
                    body += part
        except httpx.HTTPError:
            pass
        finished.append(body)

    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=200)) as client:
        tasks = [asyncio.create_task(consume(client, i)) for i in range(100)]
        # The signal comes once every stream is under way (a slow machine may take a while to
        # open a hundred connections; one the server never accepted would leave no record).
        await asyncio.wait_for(all_streaming.wait(), 30)
        await asyncio.sleep(0.5)
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait, 25)
        took = time.monotonic() - started
        await asyncio.gather(*tasks)
    assert all(finished), "a client in mid-stream got nothing"
    records = await rows(database_url, "SELECT status, response FROM records")
    assert len(records) == 100
    assert not [r for r in records if r["status"] == "streaming"]
    assert all(r["response"] for r in records), "a partial text was lost"
    assert took < 10, f"shutdown took {took:.1f} s"
    record_figures("sigterm", streams=100, finalised=len(records), shutdown_seconds=round(took, 2), records_lost=0)


async def test_sigterm_at_any_moment_answers_every_client_clearly_and_ends_every_record(
    uvicorn_gateway: Start, fake_openai: FakeOpenAI, database_url: str
) -> None:
    # Clients arrive over 0.6 s (60; 300 in the soak) while the signal comes at 0.4 s, and the
    # upstream takes 0 to 1.8 s to answer at all: when the 1 s grace is over some requests are
    # still waiting for it, some are streaming, some are done. Whatever the moment, no client
    # gets a 500 and no record is left unended.
    server = uvicorn_gateway(OPENAI_API_KEY="sk", OPENAI_BASE_URL=fake_openai.base_url, GRACEFUL_SECONDS="1")
    outcomes: dict[str, tuple[int, bytes]] = {}
    count = 300 if SOAK else 60

    async def one(client: httpx.AsyncClient, index: int) -> None:
        await asyncio.sleep(index * 0.6 / count)  # arriving over 0.6 s
        request_id = f"sigterm-{index}"
        prompt = f"answer {index} [[hang={index % 10 * 0.2:.1f} chunks=20 delay=0.05]]"
        try:
            async with client.stream(
                "POST", "/stream", json={"prompt": prompt}, headers={"x-request-id": request_id}
            ) as response:
                body = b""
                try:
                    async for part in response.aiter_raw():
                        body += part
                except httpx.HTTPError:
                    pass  # cut mid-body: what came is kept
                outcomes[request_id] = (response.status_code, body)
        except httpx.HTTPError:
            outcomes[request_id] = (0, b"")  # never answered: never accepted, or closed idle

    async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=httpx.Limits(max_connections=200)) as client:
        tasks = [asyncio.create_task(one(client, i)) for i in range(count)]
        await asyncio.sleep(0.4)
        server.signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait, 25)
        await asyncio.gather(*tasks)
    records = {
        r["request_id"]: r for r in await rows(database_url, "SELECT request_id, status, response, error FROM records")
    }
    statuses = sorted({status for status, _ in outcomes.values()})
    assert set(statuses) <= {0, 200, 503}, statuses
    assert {r["status"] for r in records.values()} <= {"complete", "error"}, "a record was left unended"
    for request_id, (status, body) in outcomes.items():
        record = records.get(request_id)
        if status == 200:
            assert record is not None and record["response"].startswith(body.decode()), (request_id, record, body)
        elif status == 503:
            assert json.loads(body)["error"]["type"] == "unavailable"
            assert record is None or (record["response"], record["error"]) == ("", SHUTDOWN_UNANSWERED), record
    answered = [status for status, _ in outcomes.values()]
    assert answered.count(503) and answered.count(200), answered  # the moments this test is about
    record_figures(
        "sigterm_at_any_moment",
        clients=len(outcomes),
        streamed=answered.count(200),
        told_503=answered.count(503),
        not_accepted=answered.count(0),
        records=len(records),
        records_unended=0,
        records_lost=0,
    )
    assert "Exception in ASGI application" not in server.log_text()


def _pg_cluster(action: str) -> None:
    version = os.listdir("/etc/postgresql")[0]
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            version,
            "main",
            action,
            *(["-m", "fast"] if action == "stop" else []),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _can_restart_postgres() -> bool:
    return Path("/etc/postgresql").is_dir() and os.geteuid() == 0


def _pg_ready() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False).returncode == 0


async def test_postgres_restart_under_load_loses_nothing(uvicorn_gateway: Start, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip(reason="restarts the local PostgreSQL server; SQLite is a file with no server to restart")
    if not _can_restart_postgres():
        if IN_CI:
            pytest.fail("this test needs root and the local PostgreSQL cluster (required under CI=true)")
        pytest.skip(reason="needs root and the local PostgreSQL cluster")
    server = uvicorn_gateway(MOCK_DELAY_SECONDS="0.1")
    bodies: list[tuple[str, bytes]] = []

    async def consume(client: httpx.AsyncClient, index: int) -> None:
        async with client.stream("POST", "/stream", json={"prompt": f"restart {index}", "max_tokens": 30}) as response:
            body = b""
            async for part in response.aiter_raw():
                body += part
            bodies.append((response.headers.get("x-record-id", ""), body))

    health_during = 0
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            tasks = [asyncio.create_task(consume(client, i)) for i in range(20)]
            await asyncio.sleep(0.8)
            await asyncio.to_thread(_pg_cluster, "stop")
            health_during = (await client.get("/health")).status_code
            history_during = (await client.get("/history")).status_code
            refused = await client.post("/stream", json={"prompt": "while the database is down"})
            await asyncio.sleep(0.5)
            await asyncio.to_thread(_pg_cluster, "start")
            for _ in range(100):
                if _pg_ready():
                    break
                await asyncio.sleep(0.1)
            await asyncio.gather(*tasks)
            recovered = 0
            for _ in range(50):
                recovered = (await client.get("/health")).status_code
                if recovered == 200:
                    break
                await asyncio.sleep(0.2)
            after = await client.post("/stream", json={"prompt": "after the restart"})
    finally:
        if not _pg_ready():
            await asyncio.to_thread(_pg_cluster, "start")
    assert health_during == 503 and history_during == 503
    assert refused.status_code == 503 and refused.json()["error"]["type"] == "unavailable"
    assert recovered == 200 and after.status_code == 200
    server.stop()
    log = server.log_text()
    records = {str(r["id"]): r for r in await rows(database_url, "SELECT id, status, response FROM records")}
    lost = 0
    for record_id, body in bodies:
        record = records.get(record_id) or records.get(record_id.replace("-", ""))
        written = record is not None and record["status"] != "streaming" and record["response"] == body.decode()
        logged = f"could not write the end of record {record_id}" in log and json.dumps(body.decode())[1:-1] in log
        if not (written or logged):
            lost += 1
    assert lost == 0, "a stream's text was neither written nor logged"
    record_figures("postgres_restart", streams=len(bodies), health_during_outage=health_during, records_lost=lost)


async def test_a_gateway_started_while_postgresql_is_down_answers_503_then_serves_once_it_is_back(
    uvicorn_gateway: Start, database_url: str
) -> None:
    # A process that exited here would be restarted by the platform in a loop with growing pauses
    # (Heroku: up to 20 minutes), long after the database came back.
    if not database_url.startswith("postgresql"):
        pytest.skip(reason="an embedded SQLite file cannot be down")
    parts = urlsplit(database_url)
    port = free_port()
    unreachable = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))
    server = uvicorn_gateway(DATABASE_URL=unreachable)  # nothing listens on that port yet
    proxy = CuttingProxy(parts.port or 5432)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        health = await client.get("/health")
        assert health.status_code == 503 and health.json()["database"] == "error"
        for refused in (await client.post("/stream", json={"prompt": "hello"}), await client.get("/history")):
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["type"] == "unavailable" and "Traceback" not in refused.text
        await proxy.start(port)  # the database is back
        try:
            deadline = time.monotonic() + 20
            while (await client.get("/health")).status_code != 200:
                assert time.monotonic() < deadline, "the gateway never reconnected:\n" + server.log_text()
                await asyncio.sleep(0.2)
            answer = await client.post("/stream", json={"prompt": "hello again"})
            assert answer.status_code == 200 and answer.text
            record = (await client.get(f"/history/{answer.headers['x-record-id']}")).json()
            assert record["status"] == "complete" and record["response"] == answer.text
        finally:
            await proxy.stop()
    log = server.log_text()
    assert "cannot reach the database" in log and "connected to the database" in log
    assert "open to anyone" in log  # start-up's check of stored keys, made once the database answers


async def test_a_read_only_database_gets_a_clear_503(uvicorn_gateway: Start, database_url: str) -> None:
    if database_url.startswith("postgresql"):
        name = database_url.rsplit("/", 1)[1]
        await pg_admin(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        undo = f'ALTER DATABASE "{name}" RESET default_transaction_read_only'
    else:
        pytest.skip(reason="SQLite has no server-side read-only switch, and root ignores a read-only file mode")
    try:
        server = uvicorn_gateway()
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            refused = await client.post("/stream", json={"prompt": "write me"})
            listed = await client.get("/history")
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["type"] == "unavailable" and "Traceback" not in refused.text
        assert listed.status_code == 200  # reading still works
    finally:
        await pg_admin(undo)


async def test_a_full_database_gets_a_clear_503(make_gateway: Any, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        why = "a full database is simulated with SQLite's max_page_count; PostgreSQL's disk cannot be filled here"
        pytest.skip(reason=why)
    gateway: Gateway = await make_gateway()
    assert (await gateway.post("/stream", json={"prompt": "fits"})).status_code == 200
    store = gateway.state["store"]
    writer = store.writer.connection  # the connection every stream writes through
    await writer.execute("VACUUM")  # no free pages left to reuse
    pages = await (await writer.execute("PRAGMA page_count")).fetchone()
    await writer.execute(f"PRAGMA max_page_count = {pages[0]}")
    refused = await gateway.post("/stream", json={"prompt": "x" * 30_000})
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["type"] == "unavailable" and "Traceback" not in refused.text
    assert (await gateway.get("/health")).status_code == 200
