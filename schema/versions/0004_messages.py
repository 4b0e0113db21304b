"""records keep the messages of /v1/chat/completions requests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: SQLite's rowids (which its FTS tables point at) stay.
    op.add_column("records", sa.Column("messages", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("records", "messages")
