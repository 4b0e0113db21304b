"""Exporting the history: every record of a day range (the caller's own, or all for an admin),
oldest first, one JSON object a line, read a page at a time; the same lines from `gateway export`."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from gateway.db.stamps import utcnow
from gateway.history import export
from tests.conftest import OPERATOR_KEY, Gateway, assert_error, cli, stored_key

pytestmark = pytest.mark.usefixtures("no_key_cache")


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


async def test_the_export_is_every_record_oldest_first_as_history_shows_it(gateway: Gateway, database_url: str) -> None:
    for prompt in ("first", "second", "third"):
        await gateway.post("/stream", json={"prompt": prompt})
    exported = await gateway.get("/history/export")
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/x-ndjson"
    assert exported.headers["content-disposition"].startswith('attachment; filename="history-1970-01-01-')
    history = (await gateway.get("/history")).json()["items"]
    assert lines(exported.text) == history[::-1]
    on_the_command_line = cli(database_url, "export")
    assert on_the_command_line.returncode == 0, on_the_command_line.stderr
    assert lines(on_the_command_line.stdout) == history[::-1]
    assert "exported 3 records" in on_the_command_line.stderr


async def test_a_day_range_bounds_it_and_a_bad_one_is_422(gateway: Gateway) -> None:
    store = gateway.state["store"]
    today = utcnow().date()
    for days_ago in (0, 1, 5):
        created = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(12), dt.UTC)
        await store.create(id=uuid.uuid4(), conversation_id=uuid.uuid4(), prompt=f"{days_ago} days ago",
                           model="m", stream_format="text", created_at=created)  # fmt: skip
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    ranged = await gateway.get("/history/export", params={"from": yesterday, "to": yesterday})
    assert [record["prompt"] for record in lines(ranged.text)] == ["1 days ago"]
    since = await gateway.get("/history/export", params={"from": yesterday})
    assert [record["prompt"] for record in lines(since.text)] == ["1 days ago", "0 days ago"]
    for params in ({"from": "2026-12-02", "to": "2026-12-01"}, {"format": "csv"}, {"to": "yesterday"}):
        assert_error(await gateway.get("/history/export", params=params), 422)


async def test_a_key_exports_its_own_records_and_an_admin_every_record(make_gateway: Any, database_url: str) -> None:
    gateway = await make_gateway(api_key=OPERATOR_KEY)
    alice, bob = await stored_key(gateway, "alice"), await stored_key(gateway, "bob")
    for key, prompt in ((alice, "alice's"), (bob, "bob's")):
        await gateway.post("/stream", json={"prompt": prompt}, headers={"x-api-key": key})
    mine = await gateway.get("/history/export", headers={"x-api-key": alice})
    assert [record["prompt"] for record in lines(mine.text)] == ["alice's"]
    every = await gateway.get("/history/export", headers={"x-api-key": OPERATOR_KEY})
    assert [record["prompt"] for record in lines(every.text)] == ["alice's", "bob's"]
    by_key = cli(database_url, "export", "--key", "bob")
    assert [record["prompt"] for record in lines(by_key.stdout)] == ["bob's"]
    assert cli(database_url, "export", "--key", "nobody").returncode == 1


async def test_records_beyond_a_page_come_in_order_and_once(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "PAGE", 7)
    store = gateway.state["store"]
    created = utcnow().replace(microsecond=0)
    for index in range(30):  # several records share a time: the id breaks the tie
        await store.create(id=uuid.uuid4(), conversation_id=uuid.uuid4(), prompt=str(index), model="m",
                           stream_format="text", created_at=created + dt.timedelta(seconds=index // 3))  # fmt: skip
    exported = lines((await gateway.get("/history/export")).text)
    assert len(exported) == 30 and len({record["id"] for record in exported}) == 30
    keys = [(record["created_at"], record["id"]) for record in exported]
    assert keys == sorted(keys)
