"""The store on SQLite and PostgreSQL: a stream's writes (group commits on PostgreSQL: every row
lands, a bad row fails alone), the heartbeat and the crash sweep (which never wait for a row whose
end is being written), and the writer's connections."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from databases import Database

from gateway.database import PostgresWriter
from gateway.store import Ending, Store, utcnow
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


async def stamps(database_url: str) -> dict[str, tuple[str, Any]]:
    found = await rows(database_url, "SELECT prompt, status, heartbeat_at FROM records")
    return {r["prompt"]: (r["status"], r["heartbeat_at"]) for r in found}


async def test_the_heartbeat_stamps_only_this_instances_live_streams(store: Store, database_url: str) -> None:
    then = utcnow() - dt.timedelta(minutes=5)
    for prompt, status, instance in [
        ("mine", "streaming", "me"),
        ("ended", "complete", "me"),
        ("theirs", "streaming", "them"),
    ]:
        await store.create(**record(prompt=prompt, status=status, instance_id=instance, heartbeat_at=then))
    before = await stamps(database_url)

    await store.heartbeat("me")

    after = await stamps(database_url)
    assert after["mine"][1] > before["mine"][1]
    assert after["ended"] == before["ended"] and after["theirs"] == before["theirs"]


async def test_the_sweep_marks_only_live_streams_silent_too_long_interrupted(store: Store, database_url: str) -> None:
    now = utcnow()
    await store.create(**record(prompt="silent", heartbeat_at=now - dt.timedelta(minutes=5)))
    await store.create(**record(prompt="alive", heartbeat_at=now))
    await store.create(**record(prompt="ended", status="complete", heartbeat_at=now - dt.timedelta(minutes=5)))

    assert await store.sweep(dt.timedelta(minutes=1)) == 1

    statuses = {prompt: status for prompt, (status, _) in (await stamps(database_url)).items()}
    assert statuses == {"silent": "interrupted", "alive": "streaming", "ended": "complete"}


@pytest.fixture
async def pg_store(postgresql_url: str) -> AsyncIterator[Store]:
    await _clean(postgresql_url)
    async for store in opened_store(postgresql_url):
        yield store


COMPLETE = "UPDATE records SET status = 'complete' WHERE id = $1"


@contextlib.asynccontextmanager
async def final_writes(url: str) -> AsyncIterator[asyncpg.Connection]:
    """A transaction of final writes, as a group commit's batch runs them: each row it has
    written stays locked until the whole batch commits."""
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            yield connection
    finally:
        await connection.close()


@pytest.mark.postgres
async def test_the_heartbeat_and_a_batch_of_final_writes_never_deadlock(pg_store: Store, postgresql_url: str) -> None:
    """A batch of final writes holds the rows it has written and takes the next; the heartbeat
    stamps all of an instance's live rows. Before, the heartbeat waited for a row the batch held
    while holding one the batch wanted next, and PostgreSQL ended one of them a second later."""
    first, second = record(prompt="first", instance_id="me"), record(prompt="second", instance_id="me")
    await pg_store.create(**first)
    await pg_store.create(**second)
    async with final_writes(postgresql_url) as batch:
        await batch.execute(COMPLETE, first["id"])
        # The heartbeat passes over the row being written instead of waiting for it.
        await asyncio.wait_for(pg_store.heartbeat("me"), timeout=5)
        await asyncio.wait_for(batch.execute(COMPLETE, second["id"]), timeout=5)
    assert {r["status"] for r in await rows(postgresql_url, "SELECT status FROM records")} == {"complete"}


@pytest.mark.postgres
async def test_the_sweep_passes_over_a_stream_whose_end_is_being_written(pg_store: Store, postgresql_url: str) -> None:
    silent = utcnow() - dt.timedelta(minutes=5)
    ending, abandoned = record(prompt="ending", heartbeat_at=silent), record(prompt="abandoned", heartbeat_at=silent)
    await pg_store.create(**ending)
    await pg_store.create(**abandoned)
    async with final_writes(postgresql_url) as batch:
        await batch.execute(COMPLETE, ending["id"])
        assert await asyncio.wait_for(pg_store.sweep(dt.timedelta(minutes=1)), timeout=5) == 1
    statuses = {prompt: status for prompt, (status, _) in (await stamps(postgresql_url)).items()}
    assert statuses == {"ending": "complete", "abandoned": "interrupted"}


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
