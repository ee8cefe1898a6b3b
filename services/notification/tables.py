"""The `notification` schema as SQLAlchemy Core tables (the migrations are the source of truth)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "notification"

metadata = MetaData(schema=SCHEMA)

events = Table(
    "events",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
    Column("type", Text, nullable=False),
    Column("schema_version", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("user_id", Text, nullable=False),
    Column("seq", BigInteger),
    Column("data", JSONB, nullable=False),
    Column("stats", JSONB),
    Column("position", BigInteger, unique=True),
    Column("published_at", DateTime(timezone=True)),
)

user_streams = Table(
    "user_streams",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("total", Integer, nullable=False),
    Column("unread", Integer, nullable=False),
    Column("unread_low", Integer, nullable=False),
    Column("unread_normal", Integer, nullable=False),
    Column("unread_high", Integer, nullable=False),
    Column("unread_critical", Integer, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("entity_type", Text),
    Column("entity_id", Text),
    Column("entity_url", Text),
    Column("is_read", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

preferences = Table(
    "preferences",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("type", Text, primary_key=True),
    Column("channel", Text, primary_key=True),
    Column("enabled", Boolean, nullable=False),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("email", Text),
    Column("name", Text),
    Column("locale", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("caller", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("request_hash", Text, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("notification_id", Text, primary_key=True),
    Column("channel", Text, primary_key=True),
    Column("target", Text, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("detail", Text),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("event_id", Text, nullable=False),
)

processed_delivery_events = Table(
    "processed_delivery_events",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("processed_at", DateTime(timezone=True)),
)
