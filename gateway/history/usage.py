"""Usage: requests, tokens, errors, time to first token and cost, per day, model or key, read from
the `usage_daily` rollup (never from the records: a month is a few hundred rows however many
records it holds, and deleted records still count).

The rollup is kept by a trigger on the records' last write (schema/versions/0010), one row per
day, owner, model and shard; this module adds the shards, the days or keys up, estimates the TTFT
percentiles from the histogram's buckets, and prices the tokens. Never imports Starlette.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from databases import Database

from gateway.db.tables import NIL_OWNER, TTFT_BOUNDS, TTFT_BUCKETS, USAGE_COUNTS, usage_daily

TOKENS = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_creation_tokens", "reasoning_tokens")


@dataclass(frozen=True)
class Price:
    """US dollars a million tokens: input, output, input read from a cache and input written to one
    (the input price when unset)."""

    input: float
    output: float
    cached: float | None = None
    cache_write: float | None = None

    def cost(self, counts: Mapping[str, int]) -> float:
        cached, written = counts["cached_tokens"], counts.get("cache_creation_tokens", 0)
        fresh = max(counts["prompt_tokens"] - cached - written, 0)
        cached_price = self.cached if self.cached is not None else self.input
        write_price = self.cache_write if self.cache_write is not None else self.input
        spent = fresh * self.input + cached * cached_price + written * write_price
        return (spent + counts["completion_tokens"] * self.output) / 1e6


def percentile(buckets: list[int], share: float) -> float | None:
    """The TTFT below which `share` of the requests fall, interpolated within its bucket (ms)."""
    total = sum(buckets)
    if total == 0:
        return None
    wanted = share * total
    seen = 0
    low = 0.0
    for count, high in zip(buckets, [*TTFT_BOUNDS, None], strict=True):
        if count and seen + count >= wanted:
            if high is None:  # past the last bound: nothing above it is known
                return float(low)
            return round(low + (high - low) * (wanted - seen) / count, 1)
        seen += count
        low = float(high) if high is not None else low
    return float(low)


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(USAGE_COUNTS, 0))
    cost: float | None = None

    def add(self, counts: Mapping[str, int], price: Price | None) -> None:
        for name, value in counts.items():
            self.counts[name] += value
        if price is not None:
            self.cost = (self.cost or 0.0) + price.cost(counts)

    def item(self) -> dict[str, Any]:
        counts = self.counts
        buckets = [counts[name] for name in TTFT_BUCKETS]
        body: dict[str, Any] = {
            name: counts[name] for name in ("requests", "errors", "cancelled", "interrupted", *TOKENS, "estimated")
        }
        body["total_tokens"] = counts["prompt_tokens"] + counts["completion_tokens"]
        body["ttft_ms"] = {"p50": percentile(buckets, 0.5), "p95": percentile(buckets, 0.95)}
        body["cost"] = round(self.cost, 6) if self.cost is not None else None
        return body


class Usage:
    def __init__(self, database: Database, prices: Mapping[str, Price]) -> None:
        self.db = database
        self.prices = prices

    async def report(
        self,
        first: dt.date,
        last: dt.date,
        group_by: str,
        owner: uuid.UUID | None = None,
        names: Mapping[uuid.UUID, str] | None = None,
    ) -> dict[str, Any]:
        """Each group's usage from `first` to `last` (days, both included), and their total;
        `owner`: one owner's only (None: everyone's); `names`: the keys' names, by id."""
        group = {"day": usage_daily.c.day, "model": usage_daily.c.model, "key": usage_daily.c.owner}[group_by]
        sums = [sa.func.sum(usage_daily.c[name]).label(name) for name in USAGE_COUNTS]
        where = [usage_daily.c.day >= first, usage_daily.c.day <= last]
        if owner is not None:
            where.append(usage_daily.c.owner == owner)
        # By model too, whatever the grouping: each model has its own price.
        query = (
            sa.select(group.label("key"), usage_daily.c.model, *sums).where(*where).group_by(group, usage_daily.c.model)
        )
        tallies: dict[Any, Tally] = {}
        total = Tally()
        for row in await self.db.fetch_all(query):
            price = self.prices.get(row["model"])
            given = row._mapping  # the sums as the driver gave them: typed reads cost a third of the request
            counts = {name: int(given[name] or 0) for name in USAGE_COUNTS}
            tallies.setdefault(row["key"], Tally()).add(counts, price)
            total.add(counts, price)
        if group_by == "day":  # every day of the range: a chart's x axis
            for offset in range((last - first).days + 1):
                tallies.setdefault(first + dt.timedelta(days=offset), Tally())
        items = []
        for key in sorted(tallies, key=str):
            item: dict[str, Any] = {group_by: _label(group_by, key, names or {})}
            if group_by == "key":
                item["key_id"] = None if key == NIL_OWNER else str(key)
            items.append({**item, **tallies[key].item()})
        return {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "group_by": group_by,
            "items": items,
            "total": total.item(),
        }


def _label(group_by: str, key: Any, names: Mapping[uuid.UUID, str]) -> Any:
    if group_by == "day":
        return key.isoformat()
    if group_by == "key":  # the operator's key (or an open gateway's callers), a stored key, a token's subject
        return "operator" if key == NIL_OWNER else names.get(key)
    return key
