"""records: one row per exchange

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.Uuid(as_uuid=True), primary_key=True),
        sa.Column("conversation_id", sa.Uuid(as_uuid=True), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("response", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("stream_format", sa.String(16), nullable=False),
        sa.Column("system", sa.Text, nullable=True),
        sa.Column("temperature", sa.Float, nullable=True),
        sa.Column("max_tokens", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ttft_ms", sa.Float, nullable=True),
        sa.Column("duration_ms", sa.Float, nullable=True),
        sa.Column("prompt_tokens", sa.Integer, nullable=True),
        sa.Column("completion_tokens", sa.Integer, nullable=True),
        sa.Column("usage_estimated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("instance_id", sa.String(64), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('streaming', 'complete', 'cancelled', 'error', 'interrupted')",
            name="ck_records_status",
        ),
    )
    op.create_index("ix_records_created_id", "records", [sa.text("created_at DESC"), sa.text("id DESC")])
    op.create_index("ix_records_conversation", "records", ["conversation_id", "created_at"])
    op.create_index("ix_records_status_heartbeat", "records", ["status", "heartbeat_at"])


def downgrade() -> None:
    op.drop_index("ix_records_status_heartbeat", table_name="records")
    op.drop_index("ix_records_conversation", table_name="records")
    op.drop_index("ix_records_created_id", table_name="records")
    op.drop_table("records")
