"""Who is calling: FastAPI dependencies over `identity` (JWT via python-jose)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from identity import Claims, JwtSettings, TokenError, verify_token
from identity.rate_limit import CallerLimits
from identity.tokens import EVENTS_READ_SCOPE, WRITE_SCOPE

bearer = HTTPBearer(auto_error=False, description="A JWT whose `sub` is the user id.")


class Unauthenticated(Exception):
    """Missing or invalid token (401). `code` comes from the identity error."""

    def __init__(self, error: TokenError) -> None:
        super().__init__(str(error))
        self.code = error.code
        self.message = str(error)


class Forbidden(Exception):
    """The token is valid but lacks the scope (403)."""

    code = "insufficient_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(f"this call needs a token with the {scope!r} scope")
        self.message = str(self)


def _claims(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Claims:
    jwt: JwtSettings = request.app.state.jwt
    try:
        claims = verify_token(credentials.credentials if credentials else None, jwt)
    except TokenError as error:
        raise Unauthenticated(error) from error
    limits: CallerLimits = request.app.state.limits
    limits.admit(claims)
    return claims


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Claims:
    """Any valid token; `sub` is the user."""
    return _claims(request, credentials)


async def writer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Claims:
    """A service token with `notifications:write`."""
    claims = _claims(request, credentials)
    if not claims.has_scope(WRITE_SCOPE):
        raise Forbidden(WRITE_SCOPE)
    return claims


async def event_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Claims:
    """An internal caller with `events:read`; `notifications:write` alone is refused (403)."""
    claims = _claims(request, credentials)
    if not claims.has_scope(EVENTS_READ_SCOPE):
        raise Forbidden(EVENTS_READ_SCOPE)
    return claims


User = Annotated[Claims, Depends(current_user)]
Writer = Annotated[Claims, Depends(writer)]
EventReader = Annotated[Claims, Depends(event_reader)]
