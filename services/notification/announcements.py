"""Announcements: one notification for every known user, or for a list of users.

Without a recipient list the audience is every known user: anyone who has a notification
stream or a subscriber record. Each recipient gets a normal, durable notification (and its
`notification.created` event, so it reaches open browsers, email and webhooks like any
other). The HTTP route is `routes/announcements.py`.

The audience is written in batches of `BATCH_SIZE` users, each batch one transaction (a
single transaction over every user would hold every user's stream lock at once). With an
idempotency key, every batch is idempotent on its own: a retry after a failure creates only
the batches that did not commit, and repeating a finished request creates nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.notification.records import Content
from services.notification.service import CreateNotifications, NotificationService

BATCH_SIZE = 500


@dataclass(frozen=True)
class Announce:
    """Command: tell `recipients` (None: every known user) the same thing."""

    recipients: Sequence[str] | None
    content: Content


@dataclass(frozen=True)
class Announced:
    audience: str
    """`all` (every known user) or `list`."""
    count: int
    batches: int


async def announce(
    service: NotificationService,
    command: Announce,
    *,
    caller: str,
    idempotency_key: str | None,
    request_body: dict[str, Any] | None = None,
) -> Announced:
    """Create the announcement for its audience, batch by batch (`request_body` is what the
    idempotency key is checked against).

    Raises IdempotencyKeyReused when the key was used before with a different body.
    """
    recipients = (
        list(dict.fromkeys(command.recipients))
        if command.recipients is not None
        else await service.known_users()
    )
    request = request_body or {}
    count = 0
    batches = 0
    for start in range(0, len(recipients), BATCH_SIZE):
        batch = recipients[start : start + BATCH_SIZE]
        key = f"announcement:{idempotency_key}:{batches}" if idempotency_key else None
        created = await service.create(
            CreateNotifications(recipients=batch, content=command.content),
            caller=caller,
            idempotency_key=key,
            request_body={**request, "batch": batches} if key else None,
        )
        count += created.count
        batches += 1
    return Announced(
        audience="list" if command.recipients is not None else "all",
        count=count,
        batches=batches,
    )
