"""A small client of the realtime service's presence API, for other Python services.

    async with PresenceClient("http://realtime:8001", token) as presence:
        online = await presence.users_online(["alice", "bob"])   # {"alice": True, "bob": False}
        everyone = await presence.online_users()

`token` is a JWT with the `presence:read` scope (`tocsin token --user push --scope
presence:read`). More than 100 ids are asked in several requests. Any instance answers for the
whole cluster. Raises PresenceRequestFailed with the error's stable `code` (`presence_unavailable`
when the store is down, `insufficient_scope`, ...) or `unreachable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import httpx

from contracts.presence import (
    PRESENCE_MAX_USER_IDS,
    PRESENCE_PATH,
    PRESENCE_USERS_PATH,
    OnlineUsers,
    UsersPresence,
)


class PresenceRequestFailed(Exception):
    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code


class PresenceClient:
    def __init__(self, base_url: str, token: str, *, timeout_s: float = 5.0) -> None:
        self._http = httpx.AsyncClient(
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
        await self._http.aclose()

    async def users_online(self, user_ids: Sequence[str]) -> dict[str, bool]:
        """Whether each user has a socket on any realtime instance."""
        ids = list(dict.fromkeys(user_ids))
        answer: dict[str, bool] = {}
        for start in range(0, len(ids), PRESENCE_MAX_USER_IDS):
            chunk = ids[start : start + PRESENCE_MAX_USER_IDS]
            body = await self._get(PRESENCE_PATH, {"user_ids": ",".join(chunk)})
            answer.update(UsersPresence.model_validate(body).users)
        return answer

    async def is_online(self, user_id: str) -> bool:
        return (await self.users_online([user_id]))[user_id]

    async def online_users(self) -> list[str]:
        """Every user online anywhere in the cluster."""
        return OnlineUsers.model_validate(await self._get(PRESENCE_USERS_PATH, None)).user_ids

    async def _get(self, path: str, params: dict[str, str] | None) -> object:
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise PresenceRequestFailed(
                None, "unreachable", str(exc) or type(exc).__name__
            ) from exc
        if response.status_code != 200:
            try:
                error = response.json()["error"]
                code, message = str(error["code"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                code, message = f"http_{response.status_code}", response.text[:200]
            raise PresenceRequestFailed(response.status_code, code, message)
        return response.json()
