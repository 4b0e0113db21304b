"""records keep tools, tool calls, the finish reason and the usage's details; search reads tool calls

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

New columns: the request's `tools`, the answer's assembled `tool_calls`, its `finish_reason`, the
usage's `cached_tokens` and `reasoning_tokens`, and `tool_text` (the tool calls' names and
arguments as text, for search). PostgreSQL's generated search vector is made again with
`tool_text` (weight B, as the response); SQLite's FTS tables are made again with a third column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FTS_TABLES = {"records_fts_english": "porter unicode61 remove_diacritics 2", "records_fts_simple": "unicode61"}
COLUMNS: dict[str, Callable[[], Any]] = {
    "tools": sa.Text,
    "tool_calls": sa.Text,
    "tool_text": sa.Text,
    "finish_reason": lambda: sa.String(32),
    "cached_tokens": sa.Integer,
    "reasoning_tokens": sa.Integer,
}


def _vector(with_tools: bool) -> str:
    parts = [
        "setweight(to_tsvector('english'::regconfig, prompt), 'A')",
        "setweight(to_tsvector('english'::regconfig, response), 'B')",
    ]
    if with_tools:
        parts.append("setweight(to_tsvector('english'::regconfig, coalesce(tool_text, '')), 'B')")
    return " || ".join(parts)


def _postgres_search(with_tools: bool) -> None:
    op.execute("DROP INDEX IF EXISTS ix_records_search")
    op.execute("ALTER TABLE records DROP COLUMN IF EXISTS search_vector")
    vector = _vector(with_tools)
    op.execute(f"ALTER TABLE records ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({vector}) STORED")
    op.execute("CREATE INDEX ix_records_search ON records USING gin (search_vector)")


def _sqlite_search(columns: tuple[str, ...]) -> None:
    names = ", ".join(columns)
    old = ", ".join(f"old.{c}" for c in columns)
    new = ", ".join(f"new.{c}" for c in columns)
    for table, tokenizer in FTS_TABLES.items():
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{event}")
        op.execute(f"DROP TABLE IF EXISTS {table}")
        op.execute(
            f"CREATE VIRTUAL TABLE {table} USING fts5({names}, content='records', "
            f"content_rowid='rowid', tokenize='{tokenizer}')"
        )
        op.execute(
            f"CREATE TRIGGER {table}_insert AFTER INSERT ON records BEGIN "
            f"INSERT INTO {table}(rowid, {names}) VALUES (new.rowid, {new}); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_update AFTER UPDATE OF {names} ON records BEGIN "
            f"INSERT INTO {table}({table}, rowid, {names}) VALUES ('delete', old.rowid, {old}); "
            f"INSERT INTO {table}(rowid, {names}) VALUES (new.rowid, {new}); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_delete AFTER DELETE ON records BEGIN "
            f"INSERT INTO {table}({table}, rowid, {names}) VALUES ('delete', old.rowid, {old}); END"
        )
        op.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")


def upgrade() -> None:
    for name, kind in COLUMNS.items():
        op.add_column("records", sa.Column(name, kind(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        _postgres_search(with_tools=True)
    else:
        _sqlite_search(("prompt", "response", "tool_text"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_search(with_tools=False)
    else:
        _sqlite_search(("prompt", "response"))
    for name in reversed(COLUMNS):
        op.drop_column("records", name)
