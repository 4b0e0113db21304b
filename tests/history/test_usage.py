"""Usage per day, model and key, read from the rollup the records' last write keeps: every ended
record counts once (by its own write or the crash sweep), deleted records still count, a key sees
its own and an admin everyone's, tokens are priced by model, and two transactions ending records
at once never wait for each other. Both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from databases import Database

from gateway.db.stamps import utcnow
from gateway.db.tables import NIL_OWNER
from gateway.history.store import Ending
from gateway.history.upkeep import Upkeep
from gateway.history.usage import Price, Usage, percentile
from gateway.settings import ConfigError, Settings
from gateway.upstreams import config
from tests.conftest import OPERATOR_KEY, Gateway, _clean, assert_error, stored_key

pytestmark = pytest.mark.usefixtures("no_key_cache")


def as_(key: str) -> dict[str, str]:
    return {"x-api-key": key}


async def ended(
    gateway: Gateway, status: str, model: str = "m", ttft: float | None = 40.0, tokens: int = 10
) -> uuid.UUID:
    """A record written as a stream writes it: inserted `streaming`, then its end."""
    store = gateway.state["store"]
    record_id, now = uuid.uuid4(), utcnow()
    await store.create(id=record_id, conversation_id=uuid.uuid4(), prompt="p", model=model, stream_format="text",
                       created_at=now, heartbeat_at=now, instance_id="other")  # fmt: skip
    if status != "streaming":
        ending = Ending(status, "answer", ttft_ms=ttft, prompt_tokens=tokens, completion_tokens=2 * tokens)
        await store.finish(record_id, ending)
    return record_id


async def test_every_ended_record_counts_once_by_model_and_status(gateway: Gateway) -> None:
    for status in ("complete", "complete", "error", "cancelled"):
        await ended(gateway, status, tokens=5)
    await ended(gateway, "complete", model="other", ttft=None, tokens=1)
    stale = await ended(gateway, "streaming")  # a crash left it: the sweep ends it, and it counts then
    await gateway.state["store"].db.execute(
        "UPDATE records SET heartbeat_at = :old WHERE id = :id",
        {
            "old": gateway.state["store"].stamp(utcnow() - dt.timedelta(hours=1)),
            "id": stale.hex if gateway.state["store"].kind == "sqlite" else stale,
        },
    )
    upkeep = Upkeep(gateway.state["store"].db, gateway.state["store"].kind)
    assert await upkeep.sweep(dt.timedelta(minutes=1)) == 1
    await gateway.state["store"].finish(stale, Ending("complete"))  # a late write: already counted, not again
    body = (await gateway.get("/usage", params={"group_by": "model"})).json()
    by_model = {item["model"]: item for item in body["items"]}
    assert {name: by_model["m"][name] for name in ("requests", "errors", "cancelled", "interrupted")} == {
        "requests": 5, "errors": 1, "cancelled": 1, "interrupted": 1,
    }  # fmt: skip
    assert (by_model["m"]["prompt_tokens"], by_model["m"]["completion_tokens"]) == (20, 40)
    assert by_model["m"]["ttft_ms"]["p50"] is not None and 25 < by_model["m"]["ttft_ms"]["p50"] <= 50
    assert by_model["other"]["ttft_ms"] == {"p50": None, "p95": None} and by_model["other"]["cost"] is None
    assert body["total"]["requests"] == 6 and body["total"]["total_tokens"] == 63


async def test_a_day_a_row_and_deleted_records_still_count(gateway: Gateway) -> None:
    made = await gateway.post("/stream", json={"prompt": "Explain tides"})
    record_id = made.headers["x-record-id"]
    assert (await gateway.delete(f"/history/{record_id}")).status_code == 204
    today = utcnow().date()
    body = (await gateway.get("/usage", params={"from": (today - dt.timedelta(days=6)).isoformat()})).json()
    assert [item["day"] for item in body["items"]] == [
        (today - dt.timedelta(days=d)).isoformat() for d in range(6, -1, -1)
    ]
    assert [item["requests"] for item in body["items"]] == [0] * 6 + [1]
    assert body["items"][-1]["completion_tokens"] > 0 and body["items"][-1]["ttft_ms"]["p95"] is not None


async def test_a_key_sees_its_own_usage_and_an_admin_everyones(make_gateway: Any) -> None:
    gateway = await make_gateway(api_key=OPERATOR_KEY)
    alice, bob = await stored_key(gateway, "alice"), await stored_key(gateway, "bob")
    for key in (alice, alice, bob):
        assert (await gateway.post("/stream", json={"prompt": "hi"}, headers=as_(key))).status_code == 200
    await gateway.post("/stream", json={"prompt": "hi"}, headers=as_(OPERATOR_KEY))
    mine = (await gateway.get("/usage", params={"group_by": "key"}, headers=as_(alice))).json()
    assert [(item["key"], item["requests"]) for item in mine["items"]] == [("alice", 2)]
    every = (await gateway.get("/usage", params={"group_by": "key"}, headers=as_(OPERATOR_KEY))).json()
    assert sorted((item["key"], item["requests"]) for item in every["items"]) == [
        ("alice", 2),
        ("bob", 1),
        ("operator", 1),
    ]
    one = (await gateway.get("/usage", params={"key": "bob"}, headers=as_(OPERATOR_KEY))).json()
    assert one["total"]["requests"] == 1
    assert_error(await gateway.get("/usage", params={"key": "bob"}, headers=as_(alice)), 403)
    assert_error(await gateway.get("/usage", params={"key": "nobody"}, headers=as_(OPERATOR_KEY)), 404)


async def test_tokens_are_priced_by_model_and_cached_input_at_its_own_price(make_gateway: Any) -> None:
    prices = (("m", 1.0, 4.0, 0.5, None),)  # a million input, output, cache-read and cache-written tokens
    gateway = await make_gateway(model_prices=prices)
    record_id = await ended(gateway, "complete", tokens=1000)
    await gateway.state["store"].finish(
        record_id, Ending("complete", cached_tokens=400, prompt_tokens=1000, completion_tokens=2000)
    )
    await ended(gateway, "complete", model="unpriced")
    body = (await gateway.get("/usage", params={"group_by": "model"})).json()
    by_model = {item["model"]: item for item in body["items"]}
    # the second write does not count again: 1000 prompt (400 cached) and 2000 completion tokens
    assert by_model["m"]["cost"] == pytest.approx((1000 * 1.0 + 2000 * 4.0) / 1e6)
    assert by_model["unpriced"]["cost"] is None and body["total"]["cost"] == by_model["m"]["cost"]


async def test_input_written_to_a_cache_is_priced_at_its_own_price_and_counted(make_gateway: Any) -> None:
    prices = (("m", 3.0, 15.0, 0.3, 3.75),)  # Anthropic's: reads a tenth, writes a quarter more
    gateway = await make_gateway(model_prices=prices)
    record_id = await ended(gateway, "streaming")
    await gateway.state["store"].finish(
        record_id,
        Ending("complete", prompt_tokens=1000, completion_tokens=100, cached_tokens=200, cache_creation_tokens=300),
    )
    item = (await gateway.get("/usage", params={"group_by": "model"})).json()["items"][0]
    assert (item["cached_tokens"], item["cache_creation_tokens"]) == (200, 300)
    assert item["cost"] == pytest.approx((500 * 3.0 + 200 * 0.3 + 300 * 3.75 + 100 * 15.0) / 1e6)


async def test_a_range_the_rollup_cannot_answer_is_422(gateway: Gateway) -> None:
    for params in ({"from": "2026-02-30"}, {"from": "2026-12-02", "to": "2026-12-01"},
                   {"from": "2024-01-01", "to": "2026-01-01"}, {"group_by": "hour"}):  # fmt: skip
        assert_error(await gateway.get("/usage", params=params), 422)


@pytest.mark.postgres
async def test_two_transactions_ending_records_at_once_never_wait_for_each_other(postgresql_url: str) -> None:
    """Two group commits end records of one day, key and model together: each adds to its own
    shard of the rollup, so neither holds a row the other needs."""
    await _clean(postgresql_url)
    one, two = await asyncpg.connect(postgresql_url), await asyncpg.connect(postgresql_url)
    ids = [uuid.uuid4(), uuid.uuid4()]
    try:
        for record_id in ids:
            await one.execute(
                "INSERT INTO records (id, conversation_id, prompt, status, model, stream_format, created_at) "
                "VALUES ($1, $1, 'p', 'streaming', 'm', 'text', now())",
                record_id,
            )
        async with one.transaction(), two.transaction():
            await one.execute("UPDATE records SET status = 'complete' WHERE id = $1", ids[0])
            await asyncio.wait_for(two.execute("UPDATE records SET status = 'complete' WHERE id = $1", ids[1]), 5)
        assert await one.fetchval("SELECT sum(requests) FROM usage_daily") == 2
        assert await one.fetchval("SELECT count(*) FROM usage_daily") == 2  # a shard each
    finally:
        await one.close()
        await two.close()


def test_percentiles_are_interpolated_within_their_bucket() -> None:
    buckets = [0, 0, 10, 10] + [0] * 12  # ten in (25, 50], ten in (50, 100]
    assert percentile(buckets, 0.5) == 50.0 and percentile(buckets, 0.95) == 95.0
    assert percentile([0] * 15 + [3], 0.5) == 30000.0  # past the last bound, its bound is all we know
    assert percentile([0] * 16, 0.5) is None
    assert Price(2.0, 8.0).cost({"prompt_tokens": 100, "cached_tokens": 50, "completion_tokens": 10}) == pytest.approx(
        280 / 1e6
    )


def test_prices_come_from_litellms_costs_or_model_prices(tmp_path: Path) -> None:
    text = """
model_list:
  - model_name: gpt-4o
    litellm_params: {model: mock/gpt-4o, input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}
    model_info: {cache_read_input_token_cost: 0.00000125}
  - model_name: claude
    litellm_params: {model: mock/claude, input_cost_per_token: 0.000003, output_cost_per_token: 0.000015}
    model_info: {cache_read_input_token_cost: 0.0000003, cache_creation_input_token_cost: 0.00000375}
  - {model_name: cheap, litellm_params: {model: mock/cheap}}
"""
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    routing = config.load(path, Settings(), {})
    prices = routing.prices()
    assert prices["gpt-4o"][:3] == pytest.approx((2.5, 10.0, 1.25)) and prices["gpt-4o"][3] is None
    assert prices["claude"] == pytest.approx((3.0, 15.0, 0.3, 3.75)) and "cheap" not in prices
    path.write_text("model_list: [{model_name: a, litellm_params: {model: mock/a, input_cost_per_token: 1}}]")
    with pytest.raises(ConfigError, match="go together"):
        config.load(path, Settings(), {})
    parsed = Settings.from_mapping({"MODEL_PRICES": '{"m": {"input": 0.15, "output": 0.6}}'})
    assert parsed.model_prices == (("m", 0.15, 0.6, None, None),)
    written = Settings.from_mapping({"MODEL_PRICES": '{"m": {"input": 3, "output": 15, "cache_write": 3.75}}'})
    assert written.model_prices == (("m", 3.0, 15.0, None, 3.75),)
    for bad in ('{"m": {"input": 1}}', '{"m": {"input": -1, "output": 1}}', "[1]", "nope"):
        with pytest.raises(ConfigError, match="MODEL_PRICES"):
            Settings.from_mapping({"MODEL_PRICES": bad})


@pytest.mark.postgres
async def test_past_days_fold_into_one_row_each_and_the_usage_is_the_same(postgresql_url: str) -> None:
    await _clean(postgresql_url)
    database = Database(postgresql_url)
    await database.connect()
    try:
        today = utcnow().date()
        old, recent = today - dt.timedelta(days=3), today - dt.timedelta(days=1)
        for day, shard, requests in ((old, 0, 1), (old, 11, 2), (old, 12, 4), (recent, 13, 8), (today, 14, 16)):
            await database.execute(
                "INSERT INTO usage_daily (day, owner, model, shard, requests, prompt_tokens) "
                "VALUES (:day, :owner, 'm', :shard, :requests, :requests)",
                {"day": day, "owner": NIL_OWNER, "shard": shard, "requests": requests},
            )
        usage = Usage(database, {})
        before = await usage.report(old, today, "day")
        upkeep = Upkeep(database, "postgresql")
        assert await upkeep.compact_usage() == 2  # the old day's two shards; yesterday's and today's wait
        rows = await database.fetch_all("SELECT day, shard, requests FROM usage_daily ORDER BY day, shard")
        assert [(row["day"], row["shard"], row["requests"]) for row in rows] == [
            (old, 0, 7), (recent, 13, 8), (today, 14, 16),
        ]  # fmt: skip
        assert await usage.report(old, today, "day") == before
        assert await upkeep.compact_usage() == 0
    finally:
        await database.disconnect()
