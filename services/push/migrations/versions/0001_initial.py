"""Devices, events seen, pushes (durable timers) and per-device sends.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = (
    """
    CREATE TABLE push.devices (
        id text PRIMARY KEY,
        user_id text NOT NULL,
        kind text NOT NULL,
        address text NOT NULL,
        p256dh text,
        auth text,
        app_id text,
        environment text,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_success_at timestamptz,
        CONSTRAINT devices_kind_address UNIQUE (kind, address)
    )
    """,
    "COMMENT ON COLUMN push.devices.address IS 'Web Push endpoint or device token'",
    "CREATE INDEX devices_user ON push.devices (user_id)",
    """
    CREATE TABLE push.events (
        event_id text PRIMARY KEY,
        type text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE push.pushes (
        notification_id text PRIMARY KEY,
        user_id text NOT NULL,
        event_id text,
        notification jsonb,
        state text NOT NULL,
        reason text,
        due_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        finished_at timestamptz,
        CONSTRAINT pushes_state_known
            CHECK (state IN ('waiting', 'sent', 'cancelled', 'failed'))
    )
    """,
    "CREATE INDEX pushes_due ON push.pushes (due_at) WHERE state = 'waiting'",
    """
    CREATE TABLE push.sends (
        notification_id text NOT NULL,
        device_id text NOT NULL,
        user_id text NOT NULL,
        kind text NOT NULL,
        source_event_id text NOT NULL,
        status text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        status_code integer,
        detail text,
        outcome_published boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (notification_id, device_id),
        CONSTRAINT sends_status_known CHECK (status IN ('pending', 'succeeded', 'failed'))
    )
    """,
    """
    CREATE INDEX sends_unpublished ON push.sends (updated_at)
        WHERE status <> 'pending' AND NOT outcome_published
    """,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("sends", "pushes", "events", "devices"):
        op.execute(f"DROP TABLE push.{table}")
