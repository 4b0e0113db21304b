"""other APIs: an answer's reasoning and signed thinking blocks, prompt tokens written to a cache,
what an upstream was not given, and OpenAI's conversations

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08

Anthropic's API wants an answer's thinking blocks back, signature and all, on the next turn of a
tool conversation: the record keeps them (`thinking`, JSON) beside their text (`reasoning`).
Prompt tokens written to a cache are priced apart from those read from it, so they are counted
apart (`cache_creation_tokens`), on the record and in `usage_daily`, whose trigger (0010's) is
made again with the new count. `left_out` names what a request's upstream was not given because its
API has no place for it. `conversations` holds what an OpenAI conversation has of its own (its
owner, metadata and deletion); its items are its records'.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def rollup() -> ModuleType:
    """0010, whose trigger this one makes again with one more count."""
    spec = importlib.util.spec_from_file_location("usage_0010", Path(__file__).with_name("0010_usage.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def trigger(counts: list[str], extra: dict[str, str]) -> None:
    """The rollup's trigger, made again for these counts (0010's, and `extra` as expressions of NEW)."""
    usage = rollup()
    dialect = op.get_bind().dialect.name
    drop_trigger()
    names = ["day", "owner", "model", "shard", *counts]
    values = {**usage.values("NEW"), **extra}
    new = {**usage.keys(dialect, "NEW"), "shard": "pg_backend_pid()" if dialect == "postgresql" else "0", **values}
    added = ", ".join(f"{name} = usage_daily.{name} + excluded.{name}" for name in counts)
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


def drop_trigger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS records_usage ON records")
        op.execute("DROP FUNCTION IF EXISTS records_usage()")
    else:
        op.execute("DROP TRIGGER IF EXISTS records_usage")


def upgrade() -> None:
    op.add_column("records", sa.Column("cache_creation_tokens", sa.Integer, nullable=True))
    op.add_column("records", sa.Column("reasoning", sa.Text, nullable=True))
    op.add_column("records", sa.Column("thinking", sa.Text, nullable=True))
    op.add_column("records", sa.Column("left_out", sa.Text, nullable=True))
    op.add_column("usage_daily", sa.Column("cache_creation_tokens", sa.BigInteger, nullable=False, server_default="0"))
    op.create_table(
        "conversations",
        sa.Column("id", sa.Uuid(as_uuid=True), primary_key=True),
        sa.Column("api_key_id", sa.Uuid(as_uuid=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metadata", sa.Text, nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )
    counts = [*rollup().COUNTS, "cache_creation_tokens"]
    trigger(counts, {"cache_creation_tokens": "COALESCE(NEW.cache_creation_tokens, 0)"})


def downgrade() -> None:
    trigger(list(rollup().COUNTS), {})
    op.drop_table("conversations")
    op.drop_column("usage_daily", "cache_creation_tokens")
    op.drop_column("records", "left_out")
    op.drop_column("records", "thinking")
    op.drop_column("records", "reasoning")
    op.drop_column("records", "cache_creation_tokens")
