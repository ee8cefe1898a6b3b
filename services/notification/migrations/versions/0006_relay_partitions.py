"""How many relay partitions the event store is published with, so that processes started
with another number refuse to relay instead of breaking per-user order.

Revision ID: 0006_relay_partitions
Revises: 0005_incident_projection
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0006_relay_partitions"
down_revision = "0005_incident_projection"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS notification.relay_partitions (
            singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            partitions integer NOT NULL CHECK (partitions BETWEEN 1 AND 256),
            changed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE notification.relay_partitions")
