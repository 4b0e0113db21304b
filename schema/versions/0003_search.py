"""full-text search: a weighted tsvector with a GIN index (PostgreSQL), FTS5 tables (SQLite)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

PostgreSQL: a stored generated column, prompt weighted A above response B, in the `english`
configuration, with a GIN index. SQLite: two external-content FTS5 tables over records, one
stemmed (porter: `english`) and one not (`simple`), kept in step by triggers on insert, on a
change of prompt or response (not on heartbeats), and on delete.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FTS_TABLES = {"records_fts_english": "porter unicode61 remove_diacritics 2", "records_fts_simple": "unicode61"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE records ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('english'::regconfig, prompt), 'A') || "
            "setweight(to_tsvector('english'::regconfig, response), 'B')) STORED"
        )
        op.execute("CREATE INDEX ix_records_search ON records USING gin (search_vector)")
        return
    for table, tokenizer in FTS_TABLES.items():
        op.execute(
            f"CREATE VIRTUAL TABLE {table} USING fts5(prompt, response, content='records', "
            f"content_rowid='rowid', tokenize='{tokenizer}')"
        )
        op.execute(
            f"CREATE TRIGGER {table}_insert AFTER INSERT ON records BEGIN "
            f"INSERT INTO {table}(rowid, prompt, response) VALUES (new.rowid, new.prompt, new.response); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_update AFTER UPDATE OF prompt, response ON records BEGIN "
            f"INSERT INTO {table}({table}, rowid, prompt, response) "
            f"VALUES ('delete', old.rowid, old.prompt, old.response); "
            f"INSERT INTO {table}(rowid, prompt, response) VALUES (new.rowid, new.prompt, new.response); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_delete AFTER DELETE ON records BEGIN "
            f"INSERT INTO {table}({table}, rowid, prompt, response) "
            f"VALUES ('delete', old.rowid, old.prompt, old.response); END"
        )
        op.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_records_search")
        op.execute("ALTER TABLE records DROP COLUMN IF EXISTS search_vector")
        return
    for table in FTS_TABLES:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{event}")
        op.execute(f"DROP TABLE IF EXISTS {table}")
