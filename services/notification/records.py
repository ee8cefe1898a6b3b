"""The values the write side works with: notification content, recipients, outcomes, stats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row

from contracts.notifications import Channel, Priority
from observability.tracing import current_trace

STATS_COLUMNS = "last_seq, total, unread, unread_low, unread_normal, unread_high, unread_critical"


@dataclass(frozen=True)
class Content:
    """What a new notification says; the same for every recipient of one request."""

    type: str
    priority: Priority
    title: str
    message: str
    entity_type: str | None
    entity_id: str | None
    entity_url: str | None

    def columns(self) -> dict[str, Any]:
        """The notification columns this content fills (priority as its stored value)."""
        return {
            "type": self.type,
            "priority": self.priority.value,
            "title": self.title,
            "message": self.message,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "entity_url": self.entity_url,
        }


@dataclass(frozen=True)
class Delivery:
    """One recipient of a new notification, resolved before the write."""

    user_id: str
    email: str | None
    name: str | None
    locale: str | None
    channels: Sequence[Channel]


@dataclass(frozen=True)
class Subscriber:
    """What Tocsin knows about a person, carried in their `notification.created` events."""

    user_id: str
    email: str | None
    name: str | None
    locale: str | None


@dataclass(frozen=True)
class CreatedNotification:
    id: str
    user_id: str
    seq: int
    event_id: str


@dataclass(frozen=True)
class Change:
    """The outcome of a state change: the stats after it and the event, if one was appended."""

    stats: dict[str, Any]
    seq: int | None
    event_id: str | None


def stats_of(row: Row[Any] | None) -> dict[str, Any]:
    """NotificationStats as a plain dict, from a `user_streams` row (None means no activity)."""
    if row is None:
        return {
            "total": 0,
            "unread": 0,
            "unread_by_priority": {p.value: 0 for p in Priority},
        }
    m = row._mapping
    return {
        "total": m["total"],
        "unread": m["unread"],
        "unread_by_priority": {p.value: m[f"unread_{p.value}"] for p in Priority},
    }


def notification_dict(
    notification_id: str, content: Content, created_at: datetime, is_read: bool = False
) -> dict[str, Any]:
    return {
        "id": notification_id,
        **content.columns(),
        "is_read": is_read,
        "created_at": created_at,
    }


def current_traceparent() -> str | None:
    """The trace of the request (or message) being handled, kept with its events so the relay
    can carry it to every consumer."""
    trace = current_trace()
    return trace.traceparent if trace is not None else None
