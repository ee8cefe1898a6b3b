"""Opaque, signed pagination cursors: the (created_at, id) of the last row of a page.

A cursor is `base64url(json) . base64url(hmac-sha256)[:16 bytes]`; one that was not issued by
this service (or was edited) raises InvalidCursor instead of reaching the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import datetime

import orjson

from services.notification.errors import InvalidCursor


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: bytes, key: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:16]


def encode_cursor(created_at: datetime, notification_id: str, key: bytes) -> str:
    payload = orjson.dumps([created_at.isoformat(), notification_id])
    return f"{_b64(payload)}.{_b64(_sign(payload, key))}"


def decode_cursor(cursor: str, key: bytes) -> tuple[datetime, str]:
    """The (created_at, id) a cursor points after; raises InvalidCursor."""
    try:
        encoded, signature = cursor.split(".", 1)
        payload = _unb64(encoded)
        if not hmac.compare_digest(_unb64(signature), _sign(payload, key)):
            raise InvalidCursor("the cursor was not issued by this service")
        created_at_text, notification_id = orjson.loads(payload)
        created_at = datetime.fromisoformat(created_at_text)
        return created_at, str(uuid.UUID(notification_id))
    except InvalidCursor:
        raise
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise InvalidCursor("the cursor is malformed") from exc
