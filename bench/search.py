"""Search and history at scale: bulk-load synthetic exchanges, then time the store's queries.

    python -m bench.search                 # 1,000,000 records on PostgreSQL and SQLite
    python -m bench.search --records 50000 --databases sqlite

Records are loaded through each driver's bulk path (COPY on PostgreSQL, executemany in one
transaction on SQLite). Planted words give known selectivities: `zebrafinch` in 0.05 % of the
records, `marmoset` in 1 %, `weather` in 35 %, and `aardvark` in exactly 38. Each query is timed
20 times through `Search` and `Store` (the code the routes call); the table shows p50 and p95.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from databases import Database

from gateway.db.database import sqlite_value
from gateway.db.stamps import decode_cursor
from gateway.history.search import Search
from gateway.history.store import Store

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
COLUMNS = ["id", "conversation_id", "prompt", "response", "status", "model", "stream_format", "created_at"]
PLANTED = {"zebrafinch": 0.0005, "marmoset": 0.01, "weather": 0.35}
REPEATS = 20


def vocabulary(size: int = 3000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 10))))
    return sorted(words)


def synthetic(count: int, seed: int = 11) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    words = vocabulary()
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf-like
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rare = set(rng.sample(range(count), 38))
    rows = []
    for i in range(count):
        prompt_words = rng.choices(words, weights, k=rng.randint(6, 14))
        response_words = rng.choices(words, weights, k=rng.randint(20, 40))
        for word, share in PLANTED.items():
            if rng.random() < share:
                (prompt_words if rng.random() < 0.5 else response_words).append(word)
        if i in rare:
            prompt_words.append("aardvark")
        rows.append(
            (
                uuid.UUID(int=rng.getrandbits(128), version=4),
                uuid.UUID(int=rng.getrandbits(128), version=4),
                " ".join(prompt_words),
                " ".join(response_words),
                "complete",
                "gpt-4o-mini",
                "text",
                start + dt.timedelta(seconds=i * 2, microseconds=rng.randint(0, 999_999)),
            )
        )
    return rows


def migrate(url: str) -> None:
    subprocess.run([sys.executable, "-m", "alembic", "-x", f"url={url}", "upgrade", "head"], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip


async def load_postgres(url: str, rows: list[tuple[Any, ...]]) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        # Build the GIN index once after the load rather than row by row.
        await connection.execute("DROP INDEX IF EXISTS ix_records_search")
        for start in range(0, len(rows), 50_000):
            await connection.copy_records_to_table("records", records=rows[start : start + 50_000], columns=COLUMNS)
        await connection.execute("CREATE INDEX ix_records_search ON records USING gin (search_vector)")
        await connection.execute("VACUUM ANALYZE records")
    finally:
        await connection.close()


def load_sqlite(path: str, rows: list[tuple[Any, ...]]) -> None:
    connection = sqlite3.connect(path)
    with connection:
        connection.executemany(
            f"INSERT INTO records ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            ([sqlite_value(v) for v in row] for row in rows),
        )
    connection.execute("ANALYZE")
    connection.close()


async def timed(action: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    await action()  # warm
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


async def measure(kind: str, url: str, count: int) -> list[tuple[str, str, float, float, str]]:
    database = Database(url)
    await database.connect()
    store, search = Store(database, kind), Search(database, kind)
    results = []
    try:
        for term in ("aardvark", "zebrafinch", "marmoset", "weather"):
            found = await search.find(term, "english", 10, 0)
            p50, p95 = await timed(lambda term=term: search.find(term, "english", 10, 0))  # type: ignore[misc]
            total = f"{found.total}{'+' if found.total_is_lower_bound else ''}"
            results.append((kind, f"search '{term}' (total {total})", p50, p95, ""))
        first = await store.page(limit=10)
        p50, p95 = await timed(lambda: store.page(limit=10))
        results.append((kind, "history first page", p50, p95, f"total {first.total}"))
        depth = min(100_000, count // 2)
        deep = await store.page(limit=10, offset=depth)
        p50, p95 = await timed(lambda: store.page(limit=10, offset=depth))
        results.append((kind, f"history OFFSET {depth:,}", p50, p95, ""))
        assert deep.next is not None
        cursor = decode_cursor(deep.next)
        p50, p95 = await timed(lambda: store.page(limit=10, before=cursor))
        results.append((kind, f"history keyset page at {depth:,}", p50, p95, ""))
    finally:
        await store.close()
        await database.disconnect()
    return results


async def run(count: int, kinds: list[str]) -> None:
    rows = synthetic(count)
    print(f"{count:,} synthetic records generated", file=sys.stderr)
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="gateway-search-"))
    for kind in kinds:
        started = time.monotonic()
        if kind == "postgresql":
            import asyncpg

            name = f"gateway_search_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(PG_ADMIN_URL)
            await admin.execute(f'CREATE DATABASE "{name}"')
            url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
            try:
                migrate(url)
                await load_postgres(url, rows)
                print(f"postgresql loaded in {time.monotonic() - started:.0f} s", file=sys.stderr)
                results += await measure(kind, url, count)
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
        else:
            path = str(workdir / "search.db")
            url = f"sqlite:///{path}"
            migrate(url)
            load_sqlite(path, rows)
            print(f"sqlite loaded in {time.monotonic() - started:.0f} s", file=sys.stderr)
            results += await measure(kind, url, count)
    print(f"\n{count:,} records, {REPEATS} runs each\n")
    print("| database | query | p50 ms | p95 ms | |")
    print("|---|---|---|---|---|")
    for kind, label, p50, p95, note in results:
        print(f"| {kind} | {label} | {p50:.1f} | {p95:.1f} | {note} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--databases", default="postgresql,sqlite")
    args = parser.parse_args()
    asyncio.run(run(args.records, args.databases.split(",")))


if __name__ == "__main__":
    main()
