"""Who is connected, across every realtime instance (the realtime service's presence API,
`GET /api/v1/presence?user_ids=` and `GET /api/v1/presence/users`, through the gateway).

The answer comes from the cluster-wide presence store: a user with a socket on any live
instance is connected; a killed instance's users drop out within its dead-after bound
(10 s by default), and a user who closed their last tab shortly after a leave delay (3 s)."""

from __future__ import annotations

from collections.abc import Iterable

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
