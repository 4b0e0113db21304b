"""SQLAlchemy Core tables, shared by the store and by the Alembic migrations in schema/."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

STATUSES = ("streaming", "complete", "cancelled", "error", "interrupted")

records = sa.Table(
    "records",
    metadata,
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
    # Which process owns a live stream, and when it last said so: the crash sweep needs both.
    sa.Column("instance_id", sa.String(64), nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    # The stored key that made the record; NULL for the operator's key and for an open gateway.
    sa.Column("api_key_id", sa.Uuid(as_uuid=True), nullable=True),
    # /v1/chat/completions: the request's messages, as JSON (the prompt is the last user turn).
    sa.Column("messages", sa.Text, nullable=True),
    sa.CheckConstraint(
        "status IN ('streaming', 'complete', 'cancelled', 'error', 'interrupted')",
        name="ck_records_status",
    ),
    sa.Index("ix_records_created_id", sa.desc("created_at"), sa.desc("id")),
    sa.Index("ix_records_conversation", "conversation_id", "created_at"),
    sa.Index("ix_records_status_heartbeat", "status", "heartbeat_at"),
    sa.Index("ix_records_key_created_id", "api_key_id", sa.desc("created_at"), sa.desc("id")),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=True), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("rate_limit_requests", sa.Integer, nullable=True),
    sa.Column("rate_limit_window_seconds", sa.Integer, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)
