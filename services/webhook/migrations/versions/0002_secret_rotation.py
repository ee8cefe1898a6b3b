"""Secret rotation: the previous secret keeps signing until it expires.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "webhook"


def upgrade() -> None:
    op.add_column("endpoints", sa.Column("previous_secret", sa.Text, nullable=True), schema=SCHEMA)
    op.add_column(
        "endpoints",
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("endpoints", "previous_secret_expires_at", schema=SCHEMA)
    op.drop_column("endpoints", "previous_secret", schema=SCHEMA)
