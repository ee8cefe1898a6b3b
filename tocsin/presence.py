"""Who is connected, across every realtime instance (the realtime service's presence API,
`GET /api/v1/presence?user_ids=` and `GET /api/v1/presence/users`, through the gateway).

The answer comes from the cluster-wide presence store: a user with a socket on any live
instance is connected; a killed instance's users drop out within its dead-after bound
(10 s by default), and a user who closed their last tab shortly after a leave delay (3 s).

`PresenceApi` is mixed into `tocsin.Tocsin`; `PresenceClient` is the same calls alone, for a
service that needs nothing else of the client (Tocsin's push service asks it whether a person
has a socket anywhere):

    async with PresenceClient("http://realtime:8001", token) as presence:
        online = await presence.users_connected(["alice", "bob"])  # {"alice": True, "bob": False}
        everyone = await presence.get_connected_users()
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

import httpx

from contracts.presence import (
    PRESENCE_MAX_USER_IDS,
    PRESENCE_PATH,
    PRESENCE_USERS_PATH,
    OnlineUsers,
    UsersPresence,
)
from tocsin.http import call


class PresenceApi:
    """`is_user_connected` / `get_connected_users` (mixed into `tocsin.Tocsin`). The token
    needs the `presence:read` scope; ApiError 403 `insufficient_scope` otherwise."""

    _presence: httpx.AsyncClient

    async def users_connected(self, user_ids: Iterable[str]) -> dict[str, bool]:
        """user id → whether they have a socket open anywhere (asked 100 at a time)."""
        ids = list(dict.fromkeys(user_ids))
        answer: dict[str, bool] = {}
        for start in range(0, len(ids), PRESENCE_MAX_USER_IDS):
            chunk = ids[start : start + PRESENCE_MAX_USER_IDS]
            body = await call(
                self._presence, "GET", PRESENCE_PATH, params={"user_ids": ",".join(chunk)}
            )
            answer.update(UsersPresence.model_validate(body).users)
        return answer

    async def is_user_connected(self, user_id: str) -> bool:
        return (await self.users_connected([user_id])).get(user_id, False)

    async def get_connected_users(self) -> list[str]:
        """Every user with a socket open on any realtime instance."""
        body = await call(self._presence, "GET", PRESENCE_USERS_PATH)
        return OnlineUsers.model_validate(body).user_ids


class PresenceClient(PresenceApi):
    """The presence API of any realtime instance (each answers for the whole cluster) or of the
    gateway. `token` is a JWT with the `presence:read` scope (`tocsin token --user push --scope
    presence:read`). Raises ApiError with the stable `code`: `presence_unavailable` when the
    store is down, `insufficient_scope`, ..., or status 0 `unreachable`."""

    def __init__(self, base_url: str, token: str, *, timeout_s: float = 5.0) -> None:
        self._presence = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    async def __aenter__(self) -> PresenceClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._presence.aclose()
