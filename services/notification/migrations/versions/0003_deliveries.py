"""Per-channel delivery status of each notification, from delivery.* events.

Revision ID: 0003_deliveries
Revises: 0002_incidents
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0003_deliveries"
down_revision = "0002_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE notification.deliveries (
            notification_id text        NOT NULL,
            channel         text        NOT NULL,
            target          text        NOT NULL DEFAULT '',
            user_id         text        NOT NULL,
            status          text        NOT NULL CHECK (status IN ('succeeded', 'failed')),
            attempts        integer     NOT NULL,
            detail          text,
            at              timestamptz NOT NULL,
            event_id        text        NOT NULL,
            PRIMARY KEY (notification_id, channel, target)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE notification.processed_delivery_events (
            event_id     text PRIMARY KEY,
            processed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE notification.processed_delivery_events")
    op.execute("DROP TABLE notification.deliveries")
