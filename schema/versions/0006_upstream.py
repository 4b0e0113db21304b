"""records say which upstream answered, the model it was asked for, and how many attempts it took

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("records", sa.Column("upstream", sa.String(200), nullable=True))
    op.add_column("records", sa.Column("upstream_model", sa.String(200), nullable=True))
    op.add_column("records", sa.Column("attempts", sa.Integer, nullable=True))


def downgrade() -> None:
    for name in ("attempts", "upstream_model", "upstream"):
        op.drop_column("records", name)
