"""Signed one-click unsubscribe tokens (RFC 8058 links in emails).

The email consumer signs a token for (user id, notification type); the notification service
verifies it and turns the email channel off for that user and type. Both take the same secret
(setting UNSUBSCRIBE_SECRET). A token is `<payload>.<signature>`, both base64url without
padding: the payload is compact JSON `{"u": user_id, "t": type}` and the signature is
HMAC-SHA256 of the payload's base64 text. Tokens do not expire: an unsubscribe link in an old
email must keep working, and what it can do (switch email off for one type) is harmless.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

MAX_TOKEN_LENGTH = 2048


class InvalidUnsubscribeToken(Exception):
    """The token is malformed, or its signature does not match the secret."""

    code = "invalid_unsubscribe_token"


@dataclass(frozen=True)
class Unsubscribe:
    """What a verified token asks: stop emails of `notification_type` to `user_id`."""

    user_id: str
    notification_type: str


def sign_unsubscribe(secret: str, user_id: str, notification_type: str) -> str:
    """A token for the unsubscribe link; raises ValueError when the secret is empty."""
    payload = json.dumps({"u": user_id, "t": notification_type}, separators=(",", ":"))
    encoded = _b64encode(payload.encode())
    return f"{encoded}.{_b64encode(_mac(secret, encoded))}"


def verify_unsubscribe(secret: str, token: str | None) -> Unsubscribe:
    """Check a token; raises InvalidUnsubscribeToken for anything but a genuine one."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise InvalidUnsubscribeToken("malformed unsubscribe token")
    encoded, signature = token.split(".")
    try:
        given = _b64decode(signature)
    except ValueError as exc:
        raise InvalidUnsubscribeToken("malformed unsubscribe token") from exc
    if not hmac.compare_digest(given, _mac(secret, encoded)):
        raise InvalidUnsubscribeToken("unsubscribe token signature does not match")
    try:
        payload = json.loads(_b64decode(encoded))
    except ValueError as exc:
        raise InvalidUnsubscribeToken("malformed unsubscribe token") from exc
    user_id = payload.get("u") if isinstance(payload, dict) else None
    notification_type = payload.get("t") if isinstance(payload, dict) else None
    if not isinstance(user_id, str) or not user_id or not isinstance(notification_type, str):
        raise InvalidUnsubscribeToken("unsubscribe token has no user or type")
    return Unsubscribe(user_id=user_id, notification_type=notification_type)


def _mac(secret: str, encoded_payload: str) -> bytes:
    if not secret:
        raise ValueError("set UNSUBSCRIBE_SECRET")
    return hmac.new(secret.encode(), encoded_payload.encode(), hashlib.sha256).digest()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc
