"""retention: a key's own retention, and an index of the records whose text is still kept

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

`api_keys.retention_days` overrides RETENTION_DAYS for that key's records. The partial index
holds only the records whose text has not been removed, so the sweep that removes it after
PROMPT_RETENTION_DAYS finds the next ones at once, however many it has already done.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("retention_days", sa.Integer, nullable=True))
    op.create_index(
        "ix_records_unredacted",
        "records",
        ["created_at"],
        postgresql_where=sa.text("redacted_at IS NULL"),
        sqlite_where=sa.text("redacted_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_records_unredacted", table_name="records")
    op.drop_column("api_keys", "retention_days")
