"""The store on SQLite and PostgreSQL: a stream's writes (group commits on PostgreSQL: every row
lands, a bad row fails alone) and the writer's connections."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from databases import Database

from gateway.db.database import PostgresWriter
from gateway.db.stamps import utcnow
from gateway.history.store import Ending, Store
from tests.conftest import _clean, rows


async def opened_store(url: str) -> AsyncIterator[Store]:
    database = Database(url)
    await database.connect()
    store = Store(database, "sqlite" if url.startswith("sqlite") else "postgresql")
    try:
        yield store
    finally:
        await store.close()
        await database.disconnect()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async for store in opened_store(database_url):
        yield store


@pytest.fixture
async def pg_store(postgresql_url: str) -> AsyncIterator[Store]:
    await _clean(postgresql_url)
    async for store in opened_store(postgresql_url):
        yield store


def record(**values: Any) -> dict[str, Any]:
    now = utcnow()
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "conversation_id": uuid.uuid4(),
        "prompt": "p",
        "model": "m",
        "stream_format": "text",
        "created_at": now,
        "heartbeat_at": now,
        "instance_id": "test",
    }
    fields.update(values)
    return fields


async def test_a_burst_of_streams_is_written_in_batches_and_every_row_lands(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    run = PostgresWriter.run

    async def counted(writer: PostgresWriter, sql: str, rows: list[list[Any]]) -> None:
        sizes.append(len(rows))
        await run(writer, sql, rows)

    monkeypatch.setattr(PostgresWriter, "run", counted)
    created = [record(prompt=f"burst {n}") for n in range(60)]
    async for store in opened_store(database_url):
        await asyncio.gather(*(store.create(**values) for values in created))
        await asyncio.gather(
            *(store.finish(values["id"], Ending("complete", f"answer {n}")) for n, values in enumerate(created))
        )
    if database_url.startswith("postgresql"):  # the writes that came while one was in flight went together
        assert max(sizes) > 1 and sum(sizes) == 120 and len(sizes) < 120
    stored = await rows(database_url, "SELECT prompt, response, status FROM records")
    assert sorted((r["prompt"], r["response"], r["status"]) for r in stored) == sorted(
        (f"burst {n}", f"answer {n}", "complete") for n in range(60)
    )


async def test_a_bad_row_in_a_batch_fails_alone(store: Store, database_url: str) -> None:
    first = record(prompt="first")
    await store.create(**first)
    duplicate = record(id=first["id"], prompt="duplicate")  # the primary key is taken
    good = [record(prompt=f"good {n}") for n in range(20)]
    results = await asyncio.gather(
        *(store.create(**values) for values in [*good[:10], duplicate, *good[10:]]), return_exceptions=True
    )
    failures = [result for result in results if isinstance(result, Exception)]
    assert len(failures) == 1 and results[10] is failures[0]
    prompts = {r["prompt"] for r in await rows(database_url, "SELECT prompt FROM records")}
    assert prompts == {"first", *(f"good {n}" for n in range(20))}


@pytest.mark.postgres
async def test_a_write_is_done_when_postgresql_answers_and_the_store_closes_once_its_connections_are_back(
    pg_store: Store, postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # asyncpg returns a connection to its pool in a task awaited through a shield: three turns of
    # the loop more before the writer resumes, which at the end of 1,000 streams (turns of 20-30 ms)
    # was most of the time between a stream's last token and the end of its body.
    back = asyncio.Event()
    release = asyncpg.pool.Pool.release

    async def slow_release(pool: asyncpg.pool.Pool, connection: Any, **options: Any) -> None:
        try:
            await back.wait()
        finally:  # even when the caller stops waiting: a connection never returned would hang the pool
            await release(pool, connection, **options)

    monkeypatch.setattr(asyncpg.pool.Pool, "release", slow_release)
    quick = record(prompt="quick")
    try:
        await asyncio.wait_for(pg_store.create(**quick), timeout=5)
        await asyncio.wait_for(pg_store.finish(quick["id"], Ending("complete", "done")), timeout=5)

        closing = asyncio.ensure_future(pg_store.close())
        await asyncio.sleep(0.1)
        assert not closing.done()  # the pool is closed only once every connection is back in it
    finally:
        back.set()  # (and every other pool's connections with them)
    await asyncio.wait_for(closing, timeout=5)
    assert await rows(postgresql_url, "SELECT status, response FROM records") == [
        {"status": "complete", "response": "done"}
    ]
