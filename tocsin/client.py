"""`Tocsin`: the client another Python service uses to notify people through Tocsin."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

import httpx

from contracts.topology import DEFAULT_NAMESPACE, Topology
from tocsin.api import NotificationApi
from tocsin.presence import PresenceApi
from tocsin.pushes import PushApi, Pusher


@dataclass(frozen=True)
class TocsinSettings:
    """Where Tocsin runs, and the caller's credentials; pass it in, nothing reads the
    environment. `token` is a service JWT (scope `notifications:write` for
    `create_notification`, `presence:read` for `is_user_connected` / `get_connected_users`);
    pushes need broker access to `<namespace>.events`."""

    api_url: str = "http://localhost:8000"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    namespace: str = DEFAULT_NAMESPACE
    token: str | None = None
    timeout_s: float = 10.0
    presence_url: str | None = None
    """Where the presence API answers; the gateway (`api_url`) when unset."""


class Tocsin(PushApi, NotificationApi, PresenceApi):
    """Every call of the feature description's server-side API, for services outside Tocsin.

        async with Tocsin(TocsinSettings(api_url=..., amqp_url=..., token=...)) as tocsin:
            await tocsin.create_notification(["alice"], "Invoice 42 is overdue")
            await tocsin.send_to_user("alice", {"event": "app:deploy-finished", "data": {}})

    Pushes (`send_to_user`, `broadcast_*`) are ephemeral and cluster-wide; `create_notification`
    is durable; `is_user_connected` / `get_connected_users` ask the cluster-wide presence store.
    Errors are `tocsin.errors.TocsinError` subclasses.
    """

    def __init__(self, settings: TocsinSettings) -> None:
        self.settings = settings
        headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
        self._http = httpx.AsyncClient(
            base_url=settings.api_url.rstrip("/"), headers=headers, timeout=settings.timeout_s
        )
        self._presence = httpx.AsyncClient(
            base_url=(settings.presence_url or settings.api_url).rstrip("/"),
            headers=headers,
            timeout=settings.timeout_s,
        )
        self._pusher = Pusher(settings.amqp_url, Topology(settings.namespace), settings.timeout_s)

    async def close(self) -> None:
        await self._pusher.close()
        await self._http.aclose()
        await self._presence.aclose()

    async def __aenter__(self) -> Tocsin:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
