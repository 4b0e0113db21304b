"""SQLAlchemy Core tables, shared by the store and by the Alembic migrations in schema/.

Each column of `records` says who uses it (`info={"uses": …}`): the API's view of a record (API),
a stream's first write (START) and its last (END). The store's column lists are derived from
these tags, so a new column is declared once, here.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

STATUSES = ("streaming", "complete", "cancelled", "error", "interrupted")
API, START, END = "api", "start", "end"


def uses(*who: str) -> dict[str, Any]:
    return {"uses": who}


records = sa.Table(
    "records",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=True), primary_key=True, info=uses(API, START)),
    sa.Column("conversation_id", sa.Uuid(as_uuid=True), nullable=False, info=uses(API, START)),
    sa.Column("prompt", sa.Text, nullable=False, info=uses(API, START)),
    sa.Column("response", sa.Text, nullable=False, server_default="", info=uses(API, START, END)),
    sa.Column("status", sa.String(16), nullable=False, info=uses(API, START, END)),
    sa.Column("model", sa.String(200), nullable=False, info=uses(API, START)),
    sa.Column("stream_format", sa.String(16), nullable=False, info=uses(API, START)),
    sa.Column("system", sa.Text, nullable=True, info=uses(START)),
    sa.Column("temperature", sa.Float, nullable=True, info=uses(START)),
    sa.Column("max_tokens", sa.Integer, nullable=True, info=uses(START)),
    sa.Column("error", sa.Text, nullable=True, info=uses(API, END)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, info=uses(API, START)),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True, info=uses(API, END)),
    sa.Column("ttft_ms", sa.Float, nullable=True, info=uses(API, END)),
    sa.Column("duration_ms", sa.Float, nullable=True, info=uses(API, END)),
    sa.Column("prompt_tokens", sa.Integer, nullable=True, info=uses(API, END)),
    sa.Column("completion_tokens", sa.Integer, nullable=True, info=uses(API, END)),
    sa.Column("usage_estimated", sa.Boolean, nullable=False, server_default=sa.false(), info=uses(API, START, END)),
    sa.Column("request_id", sa.String(128), nullable=True, info=uses(START)),
    # Which process owns a live stream, and when it last said so: the crash sweep needs both.
    sa.Column("instance_id", sa.String(64), nullable=True, info=uses(START)),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True, info=uses(START)),
    # The stored key that made the record; NULL for the operator's key and for an open gateway.
    sa.Column("api_key_id", sa.Uuid(as_uuid=True), nullable=True, info=uses(START)),
    # /v1/chat/completions: the request's messages and tools, as JSON (large binary parts described,
    # not kept: history.messages.for_record), and the answer's tool calls, assembled from their fragments.
    sa.Column("messages", sa.Text, nullable=True, info=uses(START)),
    sa.Column("tools", sa.Text, nullable=True, info=uses(START)),
    sa.Column("tool_calls", sa.Text, nullable=True, info=uses(API, END)),
    sa.Column("finish_reason", sa.String(32), nullable=True, info=uses(API, END)),
    sa.Column("cached_tokens", sa.Integer, nullable=True, info=uses(API, END)),
    sa.Column("reasoning_tokens", sa.Integer, nullable=True, info=uses(API, END)),
    # Which upstream answered (the configuration file's name), the model it was asked for, and the attempts.
    sa.Column("upstream", sa.String(200), nullable=True, info=uses(API, END)),
    sa.Column("upstream_model", sa.String(200), nullable=True, info=uses(API, END)),
    sa.Column("attempts", sa.Integer, nullable=True, info=uses(API, END)),
    # The tool calls' names and arguments as text: what search reads of them.
    sa.Column("tool_text", sa.Text, nullable=True, info=uses(END)),
    # The OpenTelemetry trace the record was made in (32 hex digits), when tracing is on.
    sa.Column("trace_id", sa.String(32), nullable=True, info=uses(API, START)),
    # /v1/responses: the response this one continues (its earlier turns come from the store).
    sa.Column("previous_response_id", sa.Uuid(as_uuid=True), nullable=True, info=uses(API, START)),
    # /v1 records: every request parameter but the messages and tools, as it came (JSON).
    sa.Column("params", sa.Text, nullable=True, info=uses(API, START)),
    # When the record's text was removed (a response made with store: false, or prompt retention);
    # its usage and timings stay.
    sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True, info=uses(API, START)),
    # Prompt tokens written to the upstream's cache (Anthropic's cache_creation_input_tokens).
    sa.Column("cache_creation_tokens", sa.Integer, nullable=True, info=uses(API, END)),
    # The answer's reasoning text, and its signed thinking blocks (JSON) that the next turn of a
    # conversation sends back to an upstream that wants them (Anthropic's API).
    sa.Column("reasoning", sa.Text, nullable=True, info=uses(API, END)),
    sa.Column("thinking", sa.Text, nullable=True, info=uses(API, END)),
    # What of the request its upstream was not given, because it speaks another API that has no
    # place for it (JSON: field names, `tools:<type>`, `input:<item type>`, …).
    sa.Column("left_out", sa.Text, nullable=True, info=uses(API, END)),
    sa.CheckConstraint(
        "status IN (" + ", ".join(f"'{status}'" for status in STATUSES) + ")",
        name="ck_records_status",
    ),
    sa.Index("ix_records_created_id", sa.desc("created_at"), sa.desc("id")),
    sa.Index("ix_records_conversation", "conversation_id", "created_at"),
    sa.Index("ix_records_status_heartbeat", "status", "heartbeat_at"),
    sa.Index("ix_records_key_created_id", "api_key_id", sa.desc("created_at"), sa.desc("id")),
    # The records whose text is still kept, oldest first: what PROMPT_RETENTION_DAYS removes next.
    sa.Index(
        "ix_records_unredacted",
        "created_at",
        postgresql_where=sa.text("redacted_at IS NULL"),
        sqlite_where=sa.text("redacted_at IS NULL"),
    ),
)


def columns(use: str) -> tuple[str, ...]:
    """The names of the record columns tagged with `use`, in the table's order."""
    return tuple(
        str(column.name) for column in records.columns if use in column.info.get("uses", ())
    )  # not quoted_name: orjson wants str keys


RECORD_FIELDS = columns(API)
START_COLUMNS = columns(START)
END_COLUMNS = columns(END)

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
    sa.Column("role", sa.String(16), nullable=False, server_default="user"),
    sa.Column("retention_days", sa.Integer, nullable=True),  # overrides RETENTION_DAYS for its records
)

# OpenAI's conversations (`/v1/conversations`): a conversation's items are its records' (`records.
# conversation_id` is its id); this row holds what is the conversation's own: its owner, its
# metadata, and when it was deleted. A conversation begun by /stream or /v1 has none until asked for one.
conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=True), primary_key=True),
    sa.Column("api_key_id", sa.Uuid(as_uuid=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("metadata", sa.Text, nullable=True),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
)

# Who did what to keys and records, and which admin calls were refused. The gateway only inserts.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=True), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(300), nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("client", sa.String(100), nullable=True),
    sa.Index("ix_audit_events_at_id", sa.desc("at"), sa.desc("id")),
)

# Usage per day (UTC), owner (NIL_OWNER: the operator's key, or an open gateway), model and shard,
# kept by a trigger on the records' last write (schema/versions/0010; history/usage.py reads it). TTFT is a
# histogram: one count per bucket, each bucket's upper bound in ms (the last one has none).
TTFT_BOUNDS = (10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000)
TTFT_BUCKETS = (*(f"ttft_le_{bound}" for bound in TTFT_BOUNDS), "ttft_over")
USAGE_COUNTS = ("requests", "errors", "cancelled", "interrupted", "prompt_tokens", "completion_tokens",
                "cached_tokens", "reasoning_tokens", "estimated", *TTFT_BUCKETS,
                "cache_creation_tokens")  # fmt: skip
NIL_OWNER = uuid.UUID(int=0)

usage_daily = sa.Table(
    "usage_daily",
    metadata,
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("owner", sa.Uuid(as_uuid=True), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("shard", sa.Integer, nullable=False),
    *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in USAGE_COUNTS),
    sa.PrimaryKeyConstraint("day", "owner", "model", "shard", name="pk_usage_daily"),
)
