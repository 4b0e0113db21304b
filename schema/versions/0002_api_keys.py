"""api_keys, and the key each record belongs to

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("rate_limit_requests", sa.Integer, nullable=True),
        sa.Column("rate_limit_window_seconds", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ux_api_keys_key_hash", "api_keys", ["key_hash"], unique=True)
    op.create_index("ux_api_keys_name", "api_keys", ["name"], unique=True)
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("api_key_id", sa.Uuid(as_uuid=True), nullable=True))
    op.create_index(
        "ix_records_key_created_id", "records", ["api_key_id", sa.text("created_at DESC"), sa.text("id DESC")]
    )


def downgrade() -> None:
    op.drop_index("ix_records_key_created_id", table_name="records")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("api_key_id")
    op.drop_index("ux_api_keys_name", table_name="api_keys")
    op.drop_index("ux_api_keys_key_hash", table_name="api_keys")
    op.drop_table("api_keys")
