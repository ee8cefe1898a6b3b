"""SQLAlchemy Core tables of schema `email` (created by the migrations in migrations/)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(schema="email")

processed_events = sa.Table(
    "processed_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("notification_id", sa.Text, nullable=False),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("notification_type", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("recipient", sa.Text),
    sa.Column("message_id", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("outcome_published_at", sa.DateTime(timezone=True)),
)

delivery_log = sa.Table(
    "delivery_log",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("smtp_code", sa.Integer),
    sa.Column("detail", sa.Text),
    sa.Column("duration_ms", sa.Float),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
