"""Channel tokens: an application's backend lets one user into one channel (Centrifugo-style).

A channel token is a JWT signed with Tocsin's key (`JWT_SECRET` or the RS256 key pair), with
`sub` = the user, `channel` = the channel name and `exp` (required, at most
`CHANNEL_TOKEN_MAX_TTL_S` away). It is checked once, when the socket subscribes.
"""

from __future__ import annotations

import time

from jose import jwt

from identity.tokens import (
    InvalidClaims,
    InvalidToken,
    JwtSettings,
    TokenError,
    mint_token,
    verify_token,
)

CHANNEL_CLAIM = "channel"
CHANNEL_TOKEN_MAX_TTL_S = 24 * 3600


def verify_channel_token(
    token: str | None, settings: JwtSettings, user_id: str, channel: str
) -> None:
    """Return when `token` lets `user_id` into `channel`.

    Raises a TokenError: MissingToken, InvalidToken (signature, algorithm, audience, issuer,
    expired, no `exp`, `exp` too far away), InvalidClaims (another user or another channel).
    """
    claims = verify_token(token, settings)
    if claims.expires_at is None:
        raise InvalidToken("a channel token needs 'exp'")
    if claims.expires_at - time.time() > CHANNEL_TOKEN_MAX_TTL_S:
        raise InvalidToken("a channel token may live at most a day")
    assert token is not None  # verify_token raised MissingToken otherwise
    if claims.user_id != user_id:
        raise InvalidClaims("the channel token is for another user")
    try:
        granted = jwt.get_unverified_claims(token).get(CHANNEL_CLAIM)  # signature checked above
    except Exception as exc:
        raise InvalidToken("malformed token") from exc
    if granted != channel:
        raise InvalidClaims("the channel token is for another channel")


def mint_channel_token(settings: JwtSettings, user_id: str, channel: str, ttl_s: int = 3600) -> str:
    """A channel token (what an application's backend mints), for development and tests."""
    return mint_token(settings, user_id, ttl_s=ttl_s, extra={CHANNEL_CLAIM: channel})


__all__ = ["TokenError", "mint_channel_token", "verify_channel_token"]
