"""Incident events already turned into notifications (idempotency by event id).

Revision ID: 0002_incidents
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0002_incidents"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE notification.processed_incident_events (
            event_id     text PRIMARY KEY,
            type         text NOT NULL,
            incident_id  text NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE notification.processed_incident_events")
