"""The `webhook` schema: endpoints, their administrator changes, processed events,
per-endpoint deliveries and attempts.

One `deliveries` row per (event, endpoint) is the delivery state: a retried or redelivered
event re-sends only to the endpoints whose row is still `pending`, and never to one whose row
says `succeeded`. The `events` row is written with the event's delivery rows in one
transaction, so the set of endpoints an event goes to is fixed the first time it is seen.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

SCHEMA = "webhook"

metadata = sa.MetaData(schema=SCHEMA)

_TS = sa.DateTime(timezone=True)

endpoints = sa.Table(
    "endpoints",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("event_types", postgresql.ARRAY(sa.Text), nullable=False),
    sa.Column("user_id", sa.Text, nullable=True, comment="NULL for a global endpoint"),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("previous_secret", sa.Text, nullable=True),
    sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("disabled_reason", sa.Text, nullable=True),
    sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", _TS, nullable=False, server_default=sa.func.now()),
    sa.Index("endpoints_user_id", "user_id"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("received_at", _TS, nullable=False, server_default=sa.func.now()),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("event_id", sa.Text, sa.ForeignKey(events.c.event_id), primary_key=True),
    sa.Column(
        "endpoint_id",
        sa.Text,
        sa.ForeignKey(endpoints.c.id, ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("notification_id", sa.Text, nullable=True),
    sa.Column("outcome_published", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", _TS, nullable=False, server_default=sa.func.now()),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint(
        "status IN ('pending', 'succeeded', 'failed')", name="deliveries_status_known"
    ),
    sa.Index("deliveries_endpoint", "endpoint_id"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "endpoint_id", sa.Text, sa.ForeignKey(endpoints.c.id, ondelete="CASCADE"), nullable=False
    ),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("response_excerpt", sa.Text, nullable=True),
    sa.Column("at", _TS, nullable=False, server_default=sa.func.now()),
    sa.Index("attempts_endpoint_recent", "endpoint_id", sa.text("id DESC")),
    sa.Index("attempts_event", "event_id"),
)

endpoint_changes = sa.Table(
    "endpoint_changes",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "endpoint_id", sa.Text, sa.ForeignKey(endpoints.c.id, ondelete="CASCADE"), nullable=False
    ),
    sa.Column("changed_by", sa.Text, nullable=False, comment="the administrator's token sub"),
    sa.Column("change", sa.Text, nullable=False, comment="what changed: url, secret rotated..."),
    sa.Column("at", _TS, nullable=False, server_default=sa.func.now()),
    sa.Index("endpoint_changes_recent", "endpoint_id", sa.text("id DESC")),
)
"""Changes an administrator (`webhooks:admin`) made to someone else's endpoint: the owner
sees them in `GET /endpoints/{id}/changes`."""
