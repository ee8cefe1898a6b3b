"""The `push` schema: devices, events seen, pushes (durable timers) and per-device sends.

A `pushes` row is a timer: a notification waits in state `waiting` until `due_at`, when one
copy of the service claims it (`FOR UPDATE SKIP LOCKED`) and sends it. A read, read-all or
delete of the notification turns a waiting row `cancelled`; a read that arrives before the
create leaves a `cancelled` row behind, so the late create schedules nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

SCHEMA = "push"

metadata = sa.MetaData(schema=SCHEMA)

_TS = sa.DateTime(timezone=True)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("address", sa.Text, nullable=False, comment="Web Push endpoint or device token"),
    sa.Column("p256dh", sa.Text, nullable=True),
    sa.Column("auth", sa.Text, nullable=True),
    sa.Column("app_id", sa.Text, nullable=True),
    sa.Column("environment", sa.Text, nullable=True, comment="APNs: production or sandbox"),
    sa.Column("created_at", _TS, nullable=False, server_default=sa.func.now()),
    sa.Column("last_success_at", _TS, nullable=True),
    sa.UniqueConstraint("kind", "address", name="devices_kind_address"),
    sa.Index("devices_user", "user_id"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("received_at", _TS, nullable=False, server_default=sa.func.now()),
)

pushes = sa.Table(
    "pushes",
    metadata,
    sa.Column("notification_id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("event_id", sa.Text, nullable=True),
    sa.Column("notification", postgresql.JSONB, nullable=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("due_at", _TS, nullable=True),
    sa.Column("created_at", _TS, nullable=False, server_default=sa.func.now()),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("finished_at", _TS, nullable=True),
    sa.CheckConstraint(
        "state IN ('waiting', 'sent', 'cancelled', 'failed')", name="pushes_state_known"
    ),
    sa.Index("pushes_due", "due_at", postgresql_where=sa.text("state = 'waiting'")),
)

sends = sa.Table(
    "sends",
    metadata,
    sa.Column("notification_id", sa.Text, primary_key=True),
    sa.Column("device_id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("source_event_id", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("outcome_published", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", _TS, nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="sends_status_known"),
    sa.Index(
        "sends_unpublished",
        "updated_at",
        postgresql_where=sa.text("status <> 'pending' AND NOT outcome_published"),
    ),
)
