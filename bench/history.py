"""The history at scale, on PostgreSQL: usage, export and retention over a million records.

    python -m bench.history                       # 1,000,000 records
    python -m bench.history --records 20000       # seconds: the smoke run

- usage: the records (a month of them, 20 keys, 3 models) are loaded `streaming` and ended by one
  UPDATE a day, so the rollup is built by its own trigger, as a stream's last write builds it; then
  `GET /usage` for the month by day, by model and by key, through a real gateway, 50 times each
  (p50 and p95), beside the same sums read from the records themselves.
- export: `GET /history/export` of every record through a real gateway, while its RSS is sampled
  every 20 ms: records a second, and the RSS before, at its peak and after.
- retention: the records made 400 days ago; the `paced` workload of bench.run (streams of 50
  chunks 20 ms apart) against a gateway that keeps them (before), against one with
  RETENTION_DAYS=365 while its sweep deletes them, and once they are gone (after), each run beside
  the upstream directly: the duration over the upstream's, and how fast the records went.
- the trigger: a stream's last write (the UPDATE the group commit sends, 200 at a time) with the
  rollup's trigger and without it, in microseconds a record.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.servers import PG_ADMIN_URL, Server, migrate, pg_admin
from bench.workloads import Target, Workload, measure

COLUMNS = ["id", "conversation_id", "prompt", "response", "status", "model", "stream_format", "created_at",
           "api_key_id", "ttft_ms", "prompt_tokens", "completion_tokens"]  # fmt: skip
MODELS = ("gpt-4o-mini", "gpt-4o", "claude-like")
KEY = "bench-operator-key-0123456789"
REPEATS = 50
PARTS = ("usage", "export", "retention", "trigger")


def synthetic(count: int, newest: dt.datetime, days: float, seed: int = 5) -> list[tuple[Any, ...]]:
    """`count` records spread over the `days` before `newest`, still `streaming`."""
    rng = random.Random(seed)
    owners = [None, *(uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(20))]
    span = days * 86400
    rows = []
    for index in range(count):
        created = newest - dt.timedelta(seconds=span * (index + rng.random()) / count)
        rows.append((uuid.UUID(int=rng.getrandbits(128), version=4), uuid.UUID(int=rng.getrandbits(128), version=4),
                     f"question {index} about tides", f"an answer of some length to question {index}", "streaming",
                     rng.choice(MODELS), "text", created, rng.choice(owners), rng.lognormvariate(5, 0.8),
                     rng.randint(10, 2000), rng.randint(10, 800)))  # fmt: skip
    return rows


async def load(url: str, rows: list[tuple[Any, ...]]) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("DROP INDEX IF EXISTS ix_records_search")  # built once, after the load
        for start in range(0, len(rows), 50_000):
            await connection.copy_records_to_table("records", records=rows[start : start + 50_000], columns=COLUMNS)
        await connection.execute("CREATE INDEX ix_records_search ON records USING gin (search_vector)")
    finally:
        await connection.close()


async def end_every_record(url: str) -> float:
    """Every record ended, a day's at a time, by the statement a stream's last write is: the
    rollup's trigger runs once a record. Seconds taken."""
    connection = await asyncpg.connect(url)
    started = time.perf_counter()
    try:
        days = await connection.fetch("SELECT DISTINCT date_trunc('day', created_at) AS day FROM records ORDER BY 1")
        for row in days:
            await connection.execute(
                "UPDATE records SET status = CASE WHEN prompt_tokens % 50 = 0 THEN 'error' "
                "WHEN prompt_tokens % 70 = 0 THEN 'cancelled' ELSE 'complete' END "
                "WHERE created_at >= $1 AND created_at < $1 + interval '1 day'",
                row["day"],
            )
        await connection.execute("VACUUM ANALYZE records")
        await connection.execute("VACUUM ANALYZE usage_daily")
        return time.perf_counter() - started
    finally:
        await connection.close()


async def trigger_cost(url: str, count: int) -> str:
    """A stream's last write for `count` records, 200 a statement as a group commit sends them, with
    the rollup's trigger and without it (disabled), twice each, alternating: microseconds a record."""
    rows = synthetic(count, dt.datetime.now(dt.UTC), 1, seed=9)
    connection = await asyncpg.connect(url)
    ending = (
        "UPDATE records SET status = 'complete', response = $2, completed_at = now(), ttft_ms = $3, "
        "prompt_tokens = $4, completion_tokens = $5 WHERE id = $1"
    )
    spent: dict[bool, list[float]] = {True: [], False: []}
    try:
        for trigger in (True, False, True, False):
            await connection.execute("TRUNCATE records")
            await connection.copy_records_to_table("records", records=rows, columns=COLUMNS)
            await connection.execute(f"ALTER TABLE records {'ENABLE' if trigger else 'DISABLE'} TRIGGER records_usage")
            await connection.execute("VACUUM ANALYZE records")
            started = time.perf_counter()
            for start in range(0, count, 200):
                batch = [(row[0], row[3] + " and more", row[9], row[10], row[11]) for row in rows[start : start + 200]]
                await connection.executemany(ending, batch)
            spent[trigger].append((time.perf_counter() - started) / count * 1e6)
    finally:
        await connection.close()
    with_it, without = min(spent[True]), min(spent[False])
    return (
        f"a stream's last write, 200 a statement ({count:,} records): {with_it:.0f} µs a record with the usage "
        f"trigger, {without:.0f} µs without (+{with_it - without:.0f} µs, {with_it / without:.2f}x; best of two)"
    )


async def timed_get(client: httpx.AsyncClient, path: str, params: dict[str, str], repeats: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        samples.append((time.perf_counter() - started) * 1000)
    samples = sorted(samples[1:])  # the first one warms
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


async def usage(server: Server, url: str, today: dt.date) -> list[str]:
    month = {"from": (today - dt.timedelta(days=29)).isoformat(), "to": today.isoformat()}
    lines = []
    headers = {"x-api-key": KEY}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", headers=headers, timeout=60) as client:
        for group in ("day", "model", "key"):
            p50, p95 = await timed_get(client, "/usage", {**month, "group_by": group}, REPEATS)
            lines.append(f"| GET /usage, a month by {group} | {p50:.1f} | {p95:.1f} |")
        total = (await client.get("/usage", params=month)).json()["total"]["requests"]
    connection = await asyncpg.connect(url)
    try:
        samples = []
        for _ in range(3):
            started = time.perf_counter()
            await connection.fetch(
                "SELECT date_trunc('day', created_at), count(*), sum(prompt_tokens), sum(completion_tokens), "
                "percentile_cont(0.95) WITHIN GROUP (ORDER BY ttft_ms) FROM records "
                "WHERE created_at >= now() - interval '30 days' GROUP BY 1"
            )
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        await connection.close()
    lines.append(
        f"| the same by day, summed from the records | {statistics.median(samples):.0f} | {max(samples):.0f} |"
    )
    lines.append(f"| (requests counted by the rollup: {total:,}) | | |")
    return lines


async def export(server: Server) -> str:
    rss = [server.rss_mb()]
    sampling = True

    async def sample() -> None:
        while sampling:
            rss.append(server.rss_mb())
            await asyncio.sleep(0.02)

    sampler = asyncio.ensure_future(sample())
    started = time.perf_counter()
    lines = 0
    async with httpx.AsyncClient(timeout=600) as client:
        url = f"http://127.0.0.1:{server.port}/history/export"
        async with client.stream("GET", url, headers={"x-api-key": KEY}) as response:
            async for chunk in response.aiter_bytes():
                lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    await asyncio.sleep(0.2)
    sampling = False
    await sampler
    return (
        f"export: {lines:,} records in {seconds:.1f} s ({lines / seconds:,.0f} a second); gateway RSS "
        f"{rss[0]:.0f} MB before, {max(rss):.0f} MB at its peak, {rss[-1]:.0f} MB after"
    )


async def expired_records(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM records WHERE created_at < now() - interval '365 days'")
        )
    finally:
        await connection.close()


def paced_ratio(direct: Target, target: Target, paced: Workload) -> float:
    """One paced run's duration over the upstream's own, measured just before it."""
    base = asyncio.run(measure(direct, paced))["dur_p50_s"]
    return asyncio.run(measure(target, paced))["dur_p50_s"] / base


def retention(workdir: Path, url: str, count: int, paced: Workload) -> list[str]:
    """The paced workload against a gateway on the expired records that does not delete them
    (before), against one that does (while it deletes), then once they are gone (after)."""
    upstream = Server("upstream", "bench.fake_openai:app", 1, {}, workdir / "upstream.log")
    direct = Target("direct", upstream, "/v1/chat/completions", "messages")
    env = {"DATABASE_URL": url, "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream.port}/v1",
           "RATE_LIMIT_REQUESTS": "100000000"}  # fmt: skip
    try:
        keeping = Server("gateway", "gateway.app:app", 0, env, workdir / "keeping-gateway.log")
        try:
            before = [paced_ratio(direct, Target("gateway", keeping, "/stream", "prompt"), paced) for _ in range(3)]
        finally:
            keeping.stop()
        env.update(RETENTION_DAYS="365", RETENTION_SWEEP_SECONDS="2")
        deleting = Server("gateway", "gateway.app:app", 0, env, workdir / "retention-gateway.log")
        target = Target("gateway", deleting, "/stream", "prompt")
        try:
            started = time.monotonic()
            during: list[float] = []
            while not during or asyncio.run(expired_records(url)) > 0:
                during.append(paced_ratio(direct, target, paced))
                if time.monotonic() - started > 3600:
                    break
            deleted_in = time.monotonic() - started
            after = [paced_ratio(direct, target, paced) for _ in range(3)]
        finally:
            deleting.stop()
    finally:
        upstream.stop()
    return [
        f"retention: {count:,} expired records deleted within {deleted_in:.0f} s of start-up (the sweep starts "
        f"after 2 s; {count / deleted_in:,.0f} a second, measured until none is left)",
        f"paced ({paced.total} streams, {paced.chunks} chunks {paced.delay * 1000:.0f} ms apart), duration "
        f"x the upstream's, median (max): before {statistics.median(before):.2f}x ({max(before):.2f}), "
        f"while deleting {statistics.median(during):.2f}x ({max(during):.2f}, {len(during)} runs), "
        f"after {statistics.median(after):.2f}x ({max(after):.2f})",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"some of {', '.join(PARTS)}")
    args = parser.parse_args()
    count, parts = args.records, args.parts.split(",")
    paced = Workload("paced", 200, 100, 50, 0.02) if count >= 100_000 else Workload("paced", 20, 10, 10, 0.02)
    workdir = Path(tempfile.mkdtemp(prefix="gateway-history-"))
    name = f"gateway_history_{uuid.uuid4().hex[:8]}"
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    now = dt.datetime.now(dt.UTC)
    report: list[str] = []

    def fresh() -> None:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
        migrate(url)

    try:
        if "usage" in parts or "export" in parts:
            fresh()
            asyncio.run(load(url, synthetic(count, now, 29.5)))
            seconds = asyncio.run(end_every_record(url))
            report.append(f"rollup: {count:,} records ended in {seconds:.1f} s, their trigger included")
            env = {"DATABASE_URL": url, "API_KEY": KEY, "RATE_LIMIT_ENABLED": "false"}
            server = Server("gateway", "gateway.app:app", 0, env, workdir / "gateway.log")
            try:
                if "usage" in parts:
                    table = asyncio.run(usage(server, url, now.date()))
                    report += ["", "| query | p50 ms | p95 ms |", "|---|---|---|", *table]
                if "export" in parts:
                    report += ["", asyncio.run(export(server))]
            finally:
                server.stop()
        if "retention" in parts:
            fresh()
            expired = synthetic(count, now - dt.timedelta(days=400), 1)
            asyncio.run(load(url, [(*row[:4], "complete", *row[5:]) for row in expired]))
            report += ["", *retention(workdir, url, count, paced)]
        if "trigger" in parts:
            fresh()
            report += ["", asyncio.run(trigger_cost(url, min(count, 50_000)))]
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"\n{count:,} records\n")
    print("\n".join(report))
    print(f"\nlogs: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
