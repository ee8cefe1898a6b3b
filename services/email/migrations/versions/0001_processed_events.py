"""Processed events and the delivery log of the email consumer.

Revision ID: email_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "email_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_events",
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
        sa.CheckConstraint(
            "status IN ('sending', 'sent', 'failed', 'skipped')", name="status_known"
        ),
        schema="email",
    )
    op.create_index(
        "processed_events_notification", "processed_events", ["notification_id"], schema="email"
    )
    op.create_index(
        "processed_events_unpublished",
        "processed_events",
        ["processed_at"],
        schema="email",
        postgresql_where=sa.text("outcome_published_at IS NULL AND status IN ('sent', 'failed')"),
    )
    op.create_table(
        "delivery_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("smtp_code", sa.Integer),
        sa.Column("detail", sa.Text),
        sa.Column("duration_ms", sa.Float),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        schema="email",
    )
    op.create_index("delivery_log_event", "delivery_log", ["event_id", "id"], schema="email")
