"""What a socket receives for each broker message: the text frames, rendered once.

An event of a user's stream becomes one or two messages that share the event's `seq`
(`notification:new` then `stats:updated`, for instance); the same rendered text goes to every
socket of that user, so a fan-out costs one JSON encoding, not one per socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from contracts.events import (
    Announcement,
    EventEnvelope,
    EventType,
    NotificationCreated,
    NotificationDeleted,
    NotificationRead,
    NotificationsReadAll,
)
from contracts.realtime import RealtimePush
from contracts.timestamps import rfc3339
from contracts.websocket import ServerEvent
from services.realtime.transport import text_frame


class UnusableMessage(Exception):
    """A broker message the realtime service cannot turn into socket messages."""


@dataclass(frozen=True, slots=True)
class Outbound:
    """Messages for the sockets of `user_id` (`None` for every socket), in order.

    `frames` holds each message as JSON text and `wire` as an encoded WebSocket frame, both
    made once for every socket they go to.
    """

    user_id: str | None
    seq: int | None
    frames: tuple[str, ...]
    event_id: str | None = None
    wire: tuple[bytes, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "wire", tuple(text_frame(f) for f in self.frames))


def render(event: str, data: Any, seq: int | None = None, at: datetime | None = None) -> str:
    """One server message as JSON text (`{"event","data","timestamp"[,"seq"]}`)."""
    message: dict[str, Any] = {
        "event": event,
        "data": data,
        "timestamp": rfc3339(at or datetime.now(UTC)),
    }
    if seq is not None:
        message["seq"] = seq
    return orjson.dumps(message).decode()


_USER_EVENTS: dict[EventType, ServerEvent] = {
    EventType.NOTIFICATION_CREATED: ServerEvent.NOTIFICATION_NEW,
    EventType.NOTIFICATION_READ: ServerEvent.NOTIFICATION_READ,
    EventType.NOTIFICATION_UNREAD: ServerEvent.NOTIFICATION_UNREAD,
    EventType.NOTIFICATION_READ_ALL: ServerEvent.NOTIFICATION_READ_ALL,
    EventType.NOTIFICATION_DELETED: ServerEvent.NOTIFICATION_DELETED,
}


def from_envelope(envelope: EventEnvelope) -> Outbound | None:
    """The socket messages of one event; None for events sockets never see (deliveries).

    Raises UnusableMessage when the event's data does not fit its type.
    """
    try:
        if envelope.type is EventType.NOTIFICATION_BROADCAST:
            announcement = envelope.data_as(Announcement)
            data = announcement.notification.model_dump(mode="json")
            frame = render(ServerEvent.NOTIFICATION_NEW, data, None, envelope.occurred_at)
            return Outbound(None, None, (frame,), envelope.event_id)
        server_event = _USER_EVENTS.get(envelope.type)
        if server_event is None:
            return None
        body = _event_data(envelope)
    except ValidationError as exc:
        problem = f"{envelope.type} data does not fit: {exc.error_count()} errors"
        raise UnusableMessage(problem) from None
    frames = [render(server_event, body, envelope.seq, envelope.occurred_at)]
    if envelope.stats is not None:
        stats = envelope.stats.model_dump(mode="json")
        frames.append(render(ServerEvent.STATS_UPDATED, stats, envelope.seq, envelope.occurred_at))
    return Outbound(envelope.user_id, envelope.seq, tuple(frames), envelope.event_id)


def _event_data(envelope: EventEnvelope) -> dict[str, Any]:
    if envelope.type is EventType.NOTIFICATION_CREATED:
        created = envelope.data_as(NotificationCreated)
        return created.notification.model_dump(mode="json")
    if envelope.type is EventType.NOTIFICATION_READ_ALL:
        return {"ids": envelope.data_as(NotificationsReadAll).ids}
    if envelope.type is EventType.NOTIFICATION_DELETED:
        return {"id": envelope.data_as(NotificationDeleted).id}
    return {"id": envelope.data_as(NotificationRead).id}


def from_push(body: bytes) -> Outbound:
    """The socket message of a `realtime.push` command; raises UnusableMessage."""
    try:
        push = RealtimePush.model_validate_json(body)
    except ValidationError as exc:
        raise UnusableMessage(f"realtime.push does not fit: {exc.error_count()} errors") from None
    frame = render(push.event, push.data, push.seq)
    # A push is not part of the user's event stream: its seq is shown, never used to drop.
    return Outbound(None if push.user_id == "*" else push.user_id, None, (frame,))
