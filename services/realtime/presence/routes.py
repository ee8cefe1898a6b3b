"""Presence over REST, on the realtime service.

- `GET /api/v1/presence?user_ids=a,b` (at most 100 ids): a service token with `presence:read`
  asks about anyone; a user token only about itself (`user_ids=<its own sub>`).
- `GET /api/v1/presence/users`: a service token with `presence:read`.

No or a bad token → 401; a token without the right → 403 `insufficient_scope` (the answer does
not depend on whether the other users exist); bad `user_ids` → 422; the store not answering →
503. Every error is `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contracts.presence import (
    PRESENCE_MAX_USER_IDS,
    PRESENCE_PATH,
    PRESENCE_USERS_PATH,
    OnlineUsers,
    UsersPresence,
)
from identity import Claims, InvalidClaims, JwtSettings, TokenError, verify_token
from identity.tokens import PRESENCE_READ_SCOPE
from services.realtime.presence.service import Presence
from services.realtime.presence.store import PresenceUnavailable

MAX_USER_ID_LENGTH = 255
_MAX_QUERY_LENGTH = PRESENCE_MAX_USER_IDS * (MAX_USER_ID_LENGTH + 1)
_bearer = HTTPBearer(auto_error=False)


class PresenceHttpError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _caller(jwt: JwtSettings, credentials: HTTPAuthorizationCredentials | None) -> Claims:
    try:
        claims = verify_token(credentials.credentials if credentials else None, jwt)
    except TokenError as error:
        raise PresenceHttpError(401, error.code, str(error)) from error
    if "\x00" in claims.user_id:
        raise PresenceHttpError(401, InvalidClaims.code, "token 'sub' contains a NUL character")
    return claims


def parse_user_ids(raw: str | None) -> list[str]:
    """The ids of `?user_ids=a,b`, in order, without duplicates; raises PresenceHttpError 422."""
    if raw is None or not raw.strip(","):
        raise PresenceHttpError(422, "invalid_user_ids", "give user_ids=a,b (comma-separated)")
    ids = list(dict.fromkeys(raw.split(",")))
    if len(ids) > PRESENCE_MAX_USER_IDS or len(raw) > _MAX_QUERY_LENGTH:
        raise PresenceHttpError(
            422, "too_many_user_ids", f"at most {PRESENCE_MAX_USER_IDS} user ids per request"
        )
    for user_id in ids:
        if (
            not user_id
            or len(user_id) > MAX_USER_ID_LENGTH
            or not user_id.isprintable()
            or "\ufffd" in user_id  # what the query's invalid UTF-8 was decoded to
        ):
            raise PresenceHttpError(
                422,
                "invalid_user_ids",
                f"each user id is 1-{MAX_USER_ID_LENGTH} printable characters of valid UTF-8",
            )
    return ids


async def _caller_of(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Claims:
    return _caller(request.app.state.presence_jwt, credentials)


Caller = Annotated[Claims, Depends(_caller_of)]


def install(api: FastAPI, presence_of: Callable[[], Presence], jwt: JwtSettings) -> None:
    """Add the presence routes and their error mapping to the realtime service's app."""
    router = APIRouter()
    api.state.presence_jwt = jwt

    @router.get(PRESENCE_PATH, response_model=UsersPresence)
    async def users_presence(
        claims: Caller, user_ids: Annotated[str | None, Query()] = None
    ) -> UsersPresence:
        ids = parse_user_ids(user_ids)
        if not claims.has_scope(PRESENCE_READ_SCOPE) and ids != [claims.user_id]:
            raise PresenceHttpError(
                403,
                "insufficient_scope",
                f"asking about other users needs a token with the {PRESENCE_READ_SCOPE!r} scope",
            )
        try:
            return UsersPresence(users=await presence_of().users_online(ids))
        except PresenceUnavailable as exc:
            raise _unavailable() from exc

    @router.get(PRESENCE_USERS_PATH, response_model=OnlineUsers)
    async def online_users(claims: Caller) -> OnlineUsers:
        if not claims.has_scope(PRESENCE_READ_SCOPE):
            raise PresenceHttpError(
                403, "insufficient_scope", f"this call needs the {PRESENCE_READ_SCOPE!r} scope"
            )
        try:
            return OnlineUsers(user_ids=await presence_of().online_users())
        except PresenceUnavailable as exc:
            raise _unavailable() from exc

    async def as_json(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PresenceHttpError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}},
            status_code=exc.status,
            headers=headers,
        )

    api.include_router(router)
    api.add_exception_handler(PresenceHttpError, as_json)


def _unavailable() -> PresenceHttpError:
    return PresenceHttpError(503, "presence_unavailable", "the presence store does not answer")
