"""`records` partitioned by month on PostgreSQL, as docs/partition-records.sql makes it: the
migrations still go down and up on it, and every query of the gateway works on it (streams, history,
search, responses and their chains, usage, export, the sweep and retention), a month at a time."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.app import create_app
from gateway.db.stamps import utcnow
from gateway.history.store import Ending
from gateway.history.upkeep import Retention, Upkeep
from tests.conftest import ROOT, downgrade, migrate, postgres_database, test_settings, with_state

pytestmark = pytest.mark.postgres
RECIPE = ROOT / "docs" / "partition-records.sql"


@pytest.fixture
def partitioned_url() -> Iterator[str]:
    for url in postgres_database():
        migrate(url)
        asyncio.run(_partition(url, RECIPE.read_text()))
        yield url


async def _partition(url: str, recipe: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "INSERT INTO records (id, conversation_id, prompt, status, model, stream_format, created_at) "
            "VALUES ($1, $1, 'made before the partitioning', 'complete', 'm', 'text', now() - interval '400 days')",
            uuid.uuid4(),
        )
        await connection.execute(recipe)
    finally:
        await connection.close()


async def partitions(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT tableoid::regclass::text AS part, count(*) AS n FROM records GROUP BY 1")
        return {row["part"]: row["n"] for row in rows}
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def gateway_on(url: str, **overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    app = create_app(test_settings(url, **overrides))
    async with app.router.lifespan_context(app) as made:
        state: dict[str, Any] = dict(made or {})
        transport = httpx.ASGITransport(app=with_state(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client, state


def test_the_migrations_go_down_and_up_on_a_partitioned_table(partitioned_url: str) -> None:
    downgrade(partitioned_url, "0008")
    migrate(partitioned_url)
    parts = asyncio.run(partitions(partitioned_url))
    assert list(parts.values()) == [1] and next(iter(parts)).startswith("records_20")  # kept in its month


async def test_every_query_works_on_a_partitioned_table(partitioned_url: str) -> None:
    async with gateway_on(partitioned_url) as (client, state):
        streamed = await client.post("/stream", json={"prompt": "Explain tides"})
        record_id = streamed.headers["x-record-id"]
        assert (await client.get(f"/history/{record_id}")).json()["status"] == "complete"
        assert (await client.get("/history")).json()["total"] == 2
        assert [i["id"] for i in (await client.get("/search", params={"query": "tides"})).json()["items"]] == [
            record_id
        ]
        first = (await client.post("/v1/responses", json={"input": "Explain glaciers"})).json()["id"]
        chained = {"input": "Shorter", "previous_response_id": first, "stream": True}
        assert (await client.post("/v1/responses", json=chained)).text.count("response.completed") == 2
        second = (await client.get("/history", params={"limit": 1})).json()["items"][0]["id"].replace("-", "")
        assert (await client.get(f"/v1/responses/resp_{second}")).json()["previous_response_id"] == first
        assert (await client.get("/usage")).json()["total"]["requests"] == 3
        assert len((await client.get("/history/export")).text.splitlines()) == 4
        assert (await client.delete(f"/history/{record_id}")).status_code == 204
        store = state["store"]
        stale = uuid.uuid4()
        await store.create(id=stale, conversation_id=stale, prompt="p", model="m", stream_format="text",
                           created_at=utcnow(), heartbeat_at=utcnow() - dt.timedelta(hours=1))  # fmt: skip
        upkeep = Upkeep(store.db, store.kind)
        await upkeep.heartbeat("nobody")
        assert await upkeep.sweep(dt.timedelta(minutes=1)) == 1
        await store.finish(stale, Ending("complete"))
        expired = await upkeep.expire(Retention(days=365, text_days=1))
        assert (expired.deleted, expired.redacted) == (1, 0)  # the record from before, in its own month
    parts = await partitions(partitioned_url)
    assert parts == {f"records_{utcnow():%Y_%m}": 3}  # the stale record, and two responses
