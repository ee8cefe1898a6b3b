"""Indexes for the relay's urgent lane (services/notification/lanes.py): the unpublished
`notification.created` events by priority, so the relay finds the users with an urgent
event waiting without reading the backlog, and the unpublished events by user, so it reads
those users' earlier events (to keep their order) without reading their published history.

Both are partial (`position IS NULL`): they hold only the events waiting for the relay.

Revision ID: 0007_urgent_lane
Revises: 0006_relay_partitions
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0007_urgent_lane"
down_revision = "0006_relay_partitions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE INDEX IF NOT EXISTS events_unpublished_priority
            ON notification.events ((data->'notification'->>'priority'), id)
            WHERE position IS NULL AND type = 'notification.created'
        """
    )
    op.execute(
        """
        CREATE INDEX IF NOT EXISTS events_unpublished_by_user
            ON notification.events (user_id, id) WHERE position IS NULL
        """
    )


def downgrade() -> None:
    op.execute("DROP INDEX notification.events_unpublished_by_user")
    op.execute("DROP INDEX notification.events_unpublished_priority")
