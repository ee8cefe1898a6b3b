"""JWTs: HS256 with a shared secret, or RS256 with a public key (never both, never `none`).

The algorithm is fixed by the configuration, not by the token's header, which closes the
classic algorithm-confusion attack (an HS256 token signed with the RS256 public key).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from jose import ExpiredSignatureError, JWTError, jwt
from pydantic import BaseModel

WRITE_SCOPE = "notifications:write"
EVENTS_READ_SCOPE = "events:read"
ADMIN_SCOPE = "notifications:admin"
PRESENCE_READ_SCOPE = "presence:read"


class JwtSettings(BaseModel):
    """How tokens are checked. Exactly one of `secret` (HS256) or `public_key` (RS256)."""

    secret: str | None = None
    public_key: str | None = None
    private_key: str | None = None
    audience: str | None = None
    issuer: str | None = None
    leeway_s: int = 0

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

    Raises MissingToken for an empty token, InvalidToken when the signature, algorithm,
    audience, issuer, `exp` or `nbf` do not check out, InvalidClaims when `sub` is missing or
    not a non-empty string of at most 255 characters.
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
                "leeway": settings.leeway_s,
            },
        )
    except ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except JWTError as exc:
        raise InvalidToken(str(exc) or "invalid token") from exc
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise InvalidClaims("token has no usable 'sub'")
    return Claims(user_id=sub, scopes=_scopes(payload), expires_at=_number(payload.get("exp")))


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


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
