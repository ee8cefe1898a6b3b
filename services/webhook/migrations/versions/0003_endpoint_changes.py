"""Endpoint changes made by an administrator, kept for the endpoint's owner to see.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "webhook"


def upgrade() -> None:
    op.create_table(
        "endpoint_changes",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "endpoint_id",
            sa.Text,
            sa.ForeignKey(f"{SCHEMA}.endpoints.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("changed_by", sa.Text, nullable=False),
        sa.Column("change", sa.Text, nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "endpoint_changes_recent",
        "endpoint_changes",
        ["endpoint_id", sa.text("id DESC")],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("endpoint_changes", schema=SCHEMA)
