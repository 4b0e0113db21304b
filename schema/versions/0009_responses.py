"""records as Responses: the response a record continues, the request's other parameters, and when
a record's text was removed (store: false; later, prompt retention)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("records", sa.Column("previous_response_id", sa.Uuid(as_uuid=True), nullable=True))
    op.add_column("records", sa.Column("params", sa.Text, nullable=True))
    op.add_column("records", sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("records", "redacted_at")
    op.drop_column("records", "params")
    op.drop_column("records", "previous_response_id")
