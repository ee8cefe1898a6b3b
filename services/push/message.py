"""What one push says, built once from a notification and sent to every device of its person.

- `payload`: the JSON a device receives (`contracts.push.PushPayload`), kept under
  `MAX_PAYLOAD_BYTES` by shortening the body, so the encrypted Web Push message stays under
  the 4 KB every push service accepts.
- `topic`: the same for every push about the same entity (or the same notification when it
  names none), so a later push replaces an earlier one that is still queued (Web Push
  `Topic`, APNs `apns-collapse-id`, FCM `collapse_key`).
- `urgency` from the priority (RFC 8030 §5.3).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from contracts.notifications import NotificationData, Priority
from contracts.push import PushPayload

MAX_PAYLOAD_BYTES = 3_000
"""Web Push allows 4,096 encrypted bytes (about 3,993 of plaintext); leave headroom."""

URGENCY: dict[Priority, str] = {
    Priority.LOW: "low",
    Priority.NORMAL: "normal",
    Priority.HIGH: "high",
    Priority.CRITICAL: "high",
}


@dataclass(frozen=True)
class PushMessage:
    notification_id: str
    user_id: str
    priority: Priority
    title: str
    body: str
    payload: bytes
    topic: str
    urgency: str
    ttl_s: int

    @classmethod
    def from_notification(
        cls, notification: NotificationData, user_id: str, ttl_s: int
    ) -> PushMessage:
        topic = topic_for(notification)
        body = notification.message
        payload = _encode(notification, body, topic)
        while len(payload) > MAX_PAYLOAD_BYTES and body:
            over = len(payload) - MAX_PAYLOAD_BYTES + len("…".encode())
            raw = body.encode()[: max(0, len(body.encode()) - over)]
            body = raw.decode("utf-8", "ignore").rstrip("…")
            body = body + "…" if body else ""
            payload = _encode(notification, body, topic)
        return cls(
            notification_id=notification.id,
            user_id=user_id,
            priority=notification.priority,
            title=notification.title,
            body=body,
            payload=payload,
            topic=topic,
            urgency=URGENCY[notification.priority],
            ttl_s=ttl_s,
        )


def topic_for(notification: NotificationData) -> str:
    """32 base64url characters (the most Web Push's Topic allows) naming what it is about."""
    if notification.entity_type and notification.entity_id:
        subject = f"entity:{notification.entity_type}:{notification.entity_id}"
    else:
        subject = f"notification:{notification.id}"
    digest = hashlib.sha256(subject.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def _encode(notification: NotificationData, body: str, topic: str) -> bytes:
    return (
        PushPayload(
            id=notification.id,
            type=notification.type,
            priority=notification.priority,
            title=notification.title,
            body=body,
            entity_url=notification.entity_url,
            tag=topic,
            created_at=notification.created_at.isoformat(),
        )
        .model_dump_json()
        .encode()
    )
