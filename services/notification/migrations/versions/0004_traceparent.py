"""The W3C trace context of the request that caused each event, so the relay can put it on
the AMQP message and consumers can log the same trace id.

Revision ID: 0004_traceparent
Revises: 0003_deliveries
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0004_traceparent"
down_revision = "0003_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE notification.events ADD COLUMN IF NOT EXISTS traceparent text")


def downgrade() -> None:
    op.execute("ALTER TABLE notification.events DROP COLUMN traceparent")
