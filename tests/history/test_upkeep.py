"""The records' upkeep on SQLite and PostgreSQL: the heartbeat, the crash sweep and retention, which
never wait for a row whose end is being written; retention deletes (or blanks) in batches, by the
global days or a key's own, and the usage of what it deletes stays."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gateway.db.stamps import utcnow
from gateway.history.store import Ending, Store
from gateway.history.upkeep import BATCH, Retention, Upkeep
from tests.conftest import _clean, cli, rows
from tests.history.test_store import opened_store, record


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


# --- retention ---------------------------------------------------------------------------------


async def aged(store: Store, days: float, owner: uuid.UUID | None = None, prompt: str = "p") -> uuid.UUID:
    """An ended record made `days` ago."""
    made = record(prompt=prompt, created_at=utcnow() - dt.timedelta(days=days), api_key_id=owner)
    await store.create(**made)
    await store.finish(made["id"], Ending("complete", f"answer to {prompt}", prompt_tokens=3, completion_tokens=4))
    record_id: uuid.UUID = made["id"]
    return record_id


async def prompts(database_url: str) -> dict[str, tuple[str, str, Any]]:
    found = await rows(database_url, "SELECT prompt, response, redacted_at, request_id FROM records")
    return {r["request_id"]: (r["prompt"], r["response"], r["redacted_at"]) for r in found}


async def test_records_past_their_days_are_deleted_and_a_keys_own_days_win(store: Store, database_url: str) -> None:
    short, plain = uuid.uuid4(), uuid.uuid4()
    kept = {
        "operator, 10 days": await aged(store, 10),
        "short, 1 day": await aged(store, 1, short),
        "plain, 10 days": await aged(store, 10, plain),
    }
    for owner in (None, short, plain):
        await aged(store, 40, owner)
    await aged(store, 10, short)
    live = record(prompt="live", created_at=utcnow() - dt.timedelta(days=90))
    await store.create(**live)  # still streaming: never deleted under it

    expired = await upkeep(store).expire(Retention(days=30, by_key={short: 5}))

    assert expired.deleted == 4 and expired.redacted == 0
    left = {r["id"] for r in await rows(database_url, "SELECT id FROM records")}
    expected = {*kept.values(), live["id"]}
    assert {uuid.UUID(str(value)) for value in left} == expected
    usage = await rows(database_url, "SELECT sum(requests) AS n FROM usage_daily")
    assert usage[0]["n"] == 7  # the deleted records still count


async def test_past_prompt_retention_the_text_goes_and_the_usage_stays(store: Store, database_url: str) -> None:
    old, new = await aged(store, 10, prompt="tides"), await aged(store, 1, prompt="rivers")
    expired = await upkeep(store).expire(Retention(text_days=7))
    assert (expired.deleted, expired.redacted) == (0, 1)
    found = {
        uuid.UUID(str(r["id"])): r
        for r in await rows(database_url, "SELECT id, prompt, response, redacted_at, prompt_tokens FROM records")
    }
    assert (found[old]["prompt"], found[old]["response"], found[old]["prompt_tokens"]) == ("", "", 3)
    assert found[old]["redacted_at"] is not None and found[new]["prompt"] == "rivers"
    assert found[new]["redacted_at"] is None
    assert (await upkeep(store).expire(Retention(text_days=7))).redacted == 0  # done once
    usage = await rows(database_url, "SELECT sum(requests) AS n, sum(prompt_tokens) AS p FROM usage_daily")
    assert (usage[0]["n"], usage[0]["p"]) == (2, 6)


async def test_retention_goes_in_batches_until_none_is_left(
    store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(BATCH, store.kind, 3)
    statements = 0
    fetch_all = store.db.fetch_all

    async def counted(query: Any, values: Any = None) -> Any:
        nonlocal statements
        statements += 1
        return await fetch_all(query, values)

    monkeypatch.setattr(store.db, "fetch_all", counted)
    for _ in range(10):
        await aged(store, 40)
    assert (await upkeep(store).expire(Retention(days=30))).deleted == 10
    assert statements == 4  # 3 + 3 + 3 + 1
    assert await rows(database_url, "SELECT id FROM records") == []


@pytest.mark.postgres
async def test_retention_passes_over_a_record_whose_end_is_being_written(pg_store: Store, postgresql_url: str) -> None:
    ending = record(prompt="ending", created_at=utcnow() - dt.timedelta(days=40))
    await pg_store.create(**ending)
    await aged(pg_store, 40)
    async with final_writes(postgresql_url) as batch:
        await batch.execute(COMPLETE, ending["id"])
        expired = await asyncio.wait_for(upkeep(pg_store).expire(Retention(days=30)), timeout=5)
    assert expired.deleted == 1
    assert [r["prompt"] for r in await rows(postgresql_url, "SELECT prompt FROM records")] == ["ending"]


async def test_a_running_gateway_applies_retention_by_itself(make_gateway: Any, database_url: str) -> None:
    gateway = await make_gateway(retention_days=30, retention_sweep_seconds=0.05)
    await aged(gateway.state["store"], 40)
    fresh = (await gateway.post("/stream", json={"prompt": "hi"})).headers["x-record-id"]
    for _ in range(100):
        left = await rows(database_url, "SELECT id FROM records")
        if len(left) == 1:
            break
        await asyncio.sleep(0.05)
    assert [uuid.UUID(str(r["id"])) for r in left] == [uuid.UUID(fresh)]


def test_a_key_is_made_with_days_of_its_own(database_url: str) -> None:
    made = cli(database_url, "keys", "create", "brief", "--retention-days", "7")
    assert made.returncode == 0 and "records kept: 7 days" in made.stderr
    assert "7 days" in cli(database_url, "keys", "list").stdout
    assert cli(database_url, "keys", "create", "never", "--retention-days", "0").returncode == 2
