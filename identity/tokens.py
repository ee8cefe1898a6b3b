"""JWTs: HS256 with a shared secret, or RS256 with a public key (never both, never `none`).

The algorithm is fixed by the configuration, not by the token's header, which closes the
classic algorithm-confusion attack (an HS256 token signed with the RS256 public key).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from jose import JWTError, jwt
from pydantic import BaseModel

from contracts.text import unstorable

WRITE_SCOPE = "notifications:write"
"""Send notifications: create them, send announcements, upsert subscribers. Nothing else."""
EVENTS_READ_SCOPE = "events:read"
"""Read any user's event stream and latest seqs (the realtime service's internal calls)."""
WEBHOOKS_ADMIN_SCOPE = "webhooks:admin"
"""Administer webhooks: register global endpoints and endpoints for others, see and change
every endpoint (its owner sees each change in the endpoint's `changes`)."""
ADMIN_SCOPE = "notifications:admin"
"""Operator calls of the CLI; counted as a service by the rate limits."""
PRESENCE_READ_SCOPE = "presence:read"
"""Ask who is online (the realtime service's presence API)."""
DEFAULT_MAX_LIFETIME_S = 86_400

SERVICE_SCOPES = (
    WRITE_SCOPE,
    EVENTS_READ_SCOPE,
    WEBHOOKS_ADMIN_SCOPE,
    ADMIN_SCOPE,
    PRESENCE_READ_SCOPE,
)
"""A token holding any of these is a calling service (service rate limits)."""


class JwtSettings(BaseModel):
    """How tokens are checked. Exactly one of `secret` (HS256) or `public_key` (RS256)."""

    secret: str | None = None
    public_key: str | None = None
    private_key: str | None = None
    audience: str | None = None
    issuer: str | None = None
    leeway_s: int = 0
    max_lifetime_s: int | None = DEFAULT_MAX_LIFETIME_S
    """Longest a token may still be valid for (`exp` - now); None accepts any future `exp`."""
    require_exp: bool = True
    """False accepts tokens without `exp` (they never expire); an `exp` present is still checked."""

    @property
    def algorithm(self) -> str:
        return "RS256" if self.public_key else "HS256"

    @property
    def verification_key(self) -> str:
        key = self.public_key or self.secret
        if not key:
            raise ValueError("set JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256)")
        return key


class TokenError(Exception):
    """Base of every token failure; `code` is stable and shown to clients."""

    code = "invalid_token"


class MissingToken(TokenError):
    code = "missing_token"


class InvalidToken(TokenError):
    """Bad signature, wrong algorithm, audience or issuer, expired or not yet valid."""

    code = "invalid_token"


class InvalidClaims(TokenError):
    """The token verified but carries no usable `sub`."""

    code = "invalid_token_payload"


@dataclass(frozen=True)
class Claims:
    user_id: str
    scopes: frozenset[str]
    expires_at: float | None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


def verify_token(token: str | None, settings: JwtSettings) -> Claims:
    """Check a token and return its claims.

    Raises MissingToken for an empty token; InvalidToken when the signature, algorithm,
    audience, issuer or `nbf` do not check out, or `exp` is missing (unless
    `settings.require_exp` is False), not a number, past, or further away than
    `settings.max_lifetime_s`; InvalidClaims when `sub` is missing or not a non-empty string of
    at most 255 storable characters (no NUL, no lone surrogate).
    """
    if not token:
        raise MissingToken("no token")
    try:
        header = jwt.get_unverified_header(token)
    except JWTError as exc:
        raise InvalidToken("malformed token") from exc
    if header.get("alg") != settings.algorithm:
        raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
    try:
        payload = jwt.decode(
            token,
            settings.verification_key,
            algorithms=[settings.algorithm],
            audience=settings.audience,
            issuer=settings.issuer,
            options={
                "verify_aud": settings.audience is not None,
                "verify_iss": settings.issuer is not None,
                # `exp` is checked below: python-jose accepts strings and fails on null.
                "verify_exp": False,
                "leeway": settings.leeway_s,
            },
        )
    except JWTError as exc:
        raise InvalidToken(str(exc) or "invalid token") from exc
    except (TypeError, ValueError) as exc:  # a null or odd `nbf` / `iat`
        raise InvalidToken("malformed time claim") from exc
    expires_at = _expiry(payload, settings)
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255 or unstorable(sub):
        raise InvalidClaims("token has no usable 'sub'")
    return Claims(user_id=sub, scopes=_scopes(payload), expires_at=expires_at)


def _expiry(payload: dict[str, object], settings: JwtSettings) -> float | None:
    """The token's `exp` as a number; raises InvalidToken when it is unusable."""
    if "exp" not in payload and not settings.require_exp:
        return None
    exp = payload.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        raise InvalidToken("token 'exp' must be a number of seconds since the epoch")
    now = time.time()
    if exp + settings.leeway_s <= now:
        raise InvalidToken("token expired")
    if settings.max_lifetime_s is not None and exp - now > settings.max_lifetime_s:
        raise InvalidToken(f"token lives longer than {settings.max_lifetime_s} s")
    return float(exp)


def mint_token(
    settings: JwtSettings,
    user_id: str,
    *,
    scopes: list[str] | None = None,
    ttl_s: int = 3600,
    extra: dict[str, object] | None = None,
) -> str:
    """A signed token for `user_id`, for development and tests (needs the secret or private key).
    `extra` claims are added as they are (a channel token's `channel`, say)."""
    now = int(time.time())
    claims: dict[str, object] = {**(extra or {}), "sub": user_id, "iat": now, "exp": now + ttl_s}
    if scopes:
        claims["scope"] = " ".join(scopes)
    if settings.audience:
        claims["aud"] = settings.audience
    if settings.issuer:
        claims["iss"] = settings.issuer
    if settings.public_key:
        if not settings.private_key:
            raise ValueError("minting RS256 tokens needs the private key")
        return jwt.encode(claims, settings.private_key, algorithm="RS256")
    return jwt.encode(claims, settings.verification_key, algorithm="HS256")


def _scopes(payload: dict[str, object]) -> frozenset[str]:
    raw = payload.get("scope", payload.get("scopes", ""))
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(str(s) for s in raw)
    return frozenset()
