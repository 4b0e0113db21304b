"""usage per day, key and model: a rollup the records' own last write keeps (a trigger), so the
usage of a month is a few hundred rows to add whatever the number of records, and survives their
deletion

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

A record counts once, when its status leaves `streaming` (its last write, or the crash sweep): the
trigger adds it to the row of its day (UTC), owner (the nil UUID for the operator and an open
gateway), model and shard. On PostgreSQL the shard is the backend's pid, so two transactions (two
group commits writing ends at once) never update one row: neither waits for the other nor
deadlocks with it; a query adds the shards up. SQLite has one writer and one shard. TTFT is kept
as a histogram, one column per bucket (upper bounds in ms below; the last is unbounded).

The records that have ended already are added as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BOUNDS = (10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000)
BUCKETS = [f"ttft_le_{bound}" for bound in BOUNDS] + ["ttft_over"]
COUNTS = ["requests", "errors", "cancelled", "interrupted", "prompt_tokens", "completion_tokens",
          "cached_tokens", "reasoning_tokens", "estimated", *BUCKETS]  # fmt: skip
NIL = {"postgresql": "'00000000-0000-0000-0000-000000000000'::uuid", "sqlite": "'00000000000000000000000000000000'"}


def one(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def values(row: str) -> dict[str, str]:
    """Each count of one record (`row` is NEW in a trigger, or a table's alias)."""
    ttft = f"{row}.ttft_ms"
    buckets, low = {}, None
    for name, bound in zip(BUCKETS, [*BOUNDS, None], strict=True):
        conditions = [f"{ttft} IS NOT NULL"]
        if low is not None:
            conditions.append(f"{ttft} > {low}")
        if bound is not None:
            conditions.append(f"{ttft} <= {bound}")
        buckets[name] = one(" AND ".join(conditions))
        low = bound
    return {
        "requests": "1",
        "errors": one(f"{row}.status = 'error'"),
        "cancelled": one(f"{row}.status = 'cancelled'"),
        "interrupted": one(f"{row}.status = 'interrupted'"),
        "prompt_tokens": f"COALESCE({row}.prompt_tokens, 0)",
        "completion_tokens": f"COALESCE({row}.completion_tokens, 0)",
        "cached_tokens": f"COALESCE({row}.cached_tokens, 0)",
        "reasoning_tokens": f"COALESCE({row}.reasoning_tokens, 0)",
        "estimated": one(f"{row}.usage_estimated"),
        **buckets,
    }


def keys(dialect: str, row: str) -> dict[str, str]:
    if dialect == "postgresql":
        return {
            "day": f"CAST(({row}.created_at AT TIME ZONE 'UTC') AS date)",
            "owner": f"COALESCE({row}.api_key_id, {NIL[dialect]})",
            "model": f"{row}.model",
        }
    return {
        "day": f"date({row}.created_at)",
        "owner": f"COALESCE({row}.api_key_id, {NIL[dialect]})",
        "model": f"{row}.model",
    }


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "usage_daily",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("owner", sa.Uuid(as_uuid=True), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("shard", sa.Integer, nullable=False),
        *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in COUNTS),
        sa.PrimaryKeyConstraint("day", "owner", "model", "shard", name="pk_usage_daily"),
    )
    names = ["day", "owner", "model", "shard", *COUNTS]
    added = ", ".join(f"{name} = usage_daily.{name} + excluded.{name}" for name in COUNTS)
    new = {**keys(dialect, "NEW"), "shard": "pg_backend_pid()" if dialect == "postgresql" else "0", **values("NEW")}
    upsert = (
        f"INSERT INTO usage_daily ({', '.join(names)}) VALUES ({', '.join(new[name] for name in names)}) "
        f"ON CONFLICT (day, owner, model, shard) DO UPDATE SET {added}"
    )
    ended = "OLD.status = 'streaming' AND NEW.status <> 'streaming'"
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION records_usage() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {upsert}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER records_usage AFTER UPDATE OF status ON records FOR EACH ROW "
            f"WHEN ({ended}) EXECUTE FUNCTION records_usage()"
        )
    else:
        op.execute(f"CREATE TRIGGER records_usage AFTER UPDATE OF status ON records WHEN {ended} BEGIN {upsert}; END")
    old = {**keys(dialect, "r"), "shard": "0"}
    sums = {name: f"SUM({expression})" for name, expression in values("r").items()}
    op.execute(
        f"INSERT INTO usage_daily ({', '.join(names)}) "
        f"SELECT {', '.join([*old.values(), *(sums[name] for name in COUNTS)])} FROM records r "
        f"WHERE r.status <> 'streaming' GROUP BY {', '.join(old[name] for name in ('day', 'owner', 'model'))}"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS records_usage ON records")
        op.execute("DROP FUNCTION IF EXISTS records_usage()")
    else:
        op.execute("DROP TRIGGER IF EXISTS records_usage")
    op.drop_table("usage_daily")
