"""Event store, notification projection, per-user streams, preferences, subscribers, idempotency.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


STATEMENTS = (
    """
        CREATE SEQUENCE notification.event_position AS bigint
    """,
    """
        CREATE TABLE notification.events (
            id             bigserial PRIMARY KEY,
            event_id       uuid NOT NULL UNIQUE,
            type           text NOT NULL,
            schema_version text NOT NULL,
            occurred_at    timestamptz NOT NULL,
            user_id        text NOT NULL,
            seq            bigint,
            data           jsonb NOT NULL,
            stats          jsonb,
            position       bigint UNIQUE,
            published_at   timestamptz,
            UNIQUE (user_id, seq)
        )
    """,
    """
        CREATE INDEX events_unpublished ON notification.events (id) WHERE position IS NULL
    """,
    """
        CREATE TABLE notification.user_streams (
            user_id         text PRIMARY KEY,
            last_seq        bigint NOT NULL DEFAULT 0,
            total           integer NOT NULL DEFAULT 0,
            unread          integer NOT NULL DEFAULT 0,
            unread_low      integer NOT NULL DEFAULT 0,
            unread_normal   integer NOT NULL DEFAULT 0,
            unread_high     integer NOT NULL DEFAULT 0,
            unread_critical integer NOT NULL DEFAULT 0
        )
    """,
    """
        CREATE TABLE notification.notifications (
            id          uuid PRIMARY KEY,
            user_id     text NOT NULL,
            type        text NOT NULL,
            priority    text NOT NULL,
            title       text NOT NULL,
            message     text NOT NULL,
            entity_type text,
            entity_id   text,
            entity_url  text,
            is_read     boolean NOT NULL DEFAULT false,
            created_at  timestamptz NOT NULL
        )
    """,
    """
        CREATE INDEX notifications_by_user_time
            ON notification.notifications (user_id, created_at DESC, id DESC)
    """,
    """
        CREATE TABLE notification.preferences (
            user_id text NOT NULL,
            type    text NOT NULL,
            channel text NOT NULL,
            enabled boolean NOT NULL,
            PRIMARY KEY (user_id, type, channel)
        )
    """,
    """
        CREATE TABLE notification.subscribers (
            user_id    text PRIMARY KEY,
            email      text,
            name       text,
            locale     text,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
    """,
    """
        CREATE TABLE notification.idempotency_keys (
            caller       text NOT NULL,
            key          text NOT NULL,
            request_hash text NOT NULL,
            status_code  integer NOT NULL,
            response     jsonb NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (caller, key)
        )
    """,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "subscribers",
        "preferences",
        "notifications",
        "user_streams",
        "events",
    ):
        op.execute(f"DROP TABLE notification.{table}")
    op.execute("DROP SEQUENCE notification.event_position")
