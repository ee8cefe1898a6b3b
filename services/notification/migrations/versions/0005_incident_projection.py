"""The incident projection: each incident's state, the people it names, and its timeline.

`incidents` holds the state after the latest change and `last_seq`; `incident_timeline` one row
per change with the incident's gap-free `seq` (the `incident.updated` event's data). Both are
written in the transaction that ingests the incident event, with the `incident.updated` event
appended to `events` for the relay.

Revision ID: 0005_incident_projection
Revises: 0004_traceparent
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005_incident_projection"
down_revision = "0004_traceparent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS notification.incidents (
            incident_id text PRIMARY KEY,
            last_seq bigint NOT NULL,
            state jsonb NOT NULL,
            participants text[] NOT NULL,
            updated_at timestamptz NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS incidents_participants "
        "ON notification.incidents USING gin (participants)"
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS notification.incident_timeline (
            incident_id text NOT NULL,
            seq bigint NOT NULL,
            event_id text NOT NULL,
            update jsonb NOT NULL,
            PRIMARY KEY (incident_id, seq)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE notification.incident_timeline")
    op.execute("DROP TABLE notification.incidents")
