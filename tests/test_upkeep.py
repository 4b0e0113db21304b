"""The records' upkeep on SQLite and PostgreSQL: the heartbeat and the crash sweep, which never
wait for a row whose end is being written."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gateway.stamps import utcnow
from gateway.store import Store
from gateway.upkeep import Upkeep
from tests.conftest import _clean, rows
from tests.test_store import opened_store, record


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async for store in opened_store(database_url):
        yield store


def upkeep(store: Store) -> Upkeep:
    return Upkeep(store.db, store.kind)


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

    await upkeep(store).heartbeat("me")

    after = await stamps(database_url)
    assert after["mine"][1] > before["mine"][1]
    assert after["ended"] == before["ended"] and after["theirs"] == before["theirs"]


async def test_the_sweep_marks_only_live_streams_silent_too_long_interrupted(store: Store, database_url: str) -> None:
    now = utcnow()
    await store.create(**record(prompt="silent", heartbeat_at=now - dt.timedelta(minutes=5)))
    await store.create(**record(prompt="alive", heartbeat_at=now))
    await store.create(**record(prompt="ended", status="complete", heartbeat_at=now - dt.timedelta(minutes=5)))

    assert await upkeep(store).sweep(dt.timedelta(minutes=1)) == 1

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
        await asyncio.wait_for(upkeep(pg_store).heartbeat("me"), timeout=5)
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
        assert await asyncio.wait_for(upkeep(pg_store).sweep(dt.timedelta(minutes=1)), timeout=5) == 1
    statuses = {prompt: status for prompt, (status, _) in (await stamps(postgresql_url)).items()}
    assert statuses == {"ending": "complete", "abandoned": "interrupted"}
