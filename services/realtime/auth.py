"""Who is on a socket: the token check and what each failure closes the socket with."""

from __future__ import annotations

import time

from contracts.websocket import CloseCode
from identity import Claims, InvalidClaims, JwtSettings, MissingToken, TokenError, verify_token


class Refused(Exception):
    """The socket must be closed with `code` (and `reason`)."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def authenticate(token: str | None, settings: JwtSettings) -> Claims:
    """The token's claims; raises Refused with 4001 (no token), 4002 (bad signature, audience,
    issuer or expired) or 4003 (no usable `sub`)."""
    try:
        return verify_token(token, settings)
    except MissingToken as exc:
        raise Refused(CloseCode.MISSING_TOKEN, "missing authentication token") from exc
    except InvalidClaims as exc:
        raise Refused(CloseCode.INVALID_PAYLOAD, "invalid token payload") from exc
    except TokenError as exc:
        raise Refused(CloseCode.INVALID_TOKEN, "invalid or expired token") from exc


def refresh(token: str | None, user_id: str, settings: JwtSettings) -> Claims:
    """Claims of a refreshed token for the same user.

    Raises Refused with 4003 when the token is for another user, and Refused with 4002 when it
    does not verify (the caller reports that as an error and keeps the old expiry).
    """
    claims = authenticate(token, settings)
    if claims.user_id != user_id:
        raise Refused(CloseCode.INVALID_PAYLOAD, "token is for another user")
    return claims


def seconds_left(claims: Claims) -> float | None:
    """Seconds until the token expires (None when it has no `exp`)."""
    if claims.expires_at is None:
        return None
    return claims.expires_at - time.time()
