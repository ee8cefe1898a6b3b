"""The realtime service as an ASGI app: the WebSocket endpoint plus health, readiness and metrics.

`create_app(settings)` returns an ASGI callable. WebSocket handshakes on `WS_PATH` go straight
to the runtime's `SocketEndpoint`; everything else (HTTP routes, lifespan) is a FastAPI app.
The lifespan builds the instance's `Runtime` (services/realtime/runtime.py), starts it, and
stops and closes it on shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from contracts.websocket import WS_PATH
from services.realtime.channel_catchup import IncidentCatchup
from services.realtime.metrics import RealtimeCollector, registry_for
from services.realtime.presence import routes as presence_routes
from services.realtime.presence.channel_access import ChannelAccess
from services.realtime.runtime import Runtime, build_runtime
from services.realtime.settings import Settings

logger = logging.getLogger(__name__)


class RealtimeApp:
    """ASGI entry: the socket endpoint for `WS_PATH`, FastAPI for the rest."""

    def __init__(self, api: FastAPI) -> None:
        self.api = api

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.api.state.runtime
        return runtime

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and scope["path"] == WS_PATH:
            socket = self.runtime.endpoint(scope, receive, send)
            del scope  # the endpoint drops it once the socket is open: an idle socket keeps less
            await socket
            return
        await self.api(scope, receive, send)


def create_app(settings: Settings) -> RealtimeApp:
    settings.jwt.verification_key  # noqa: B018 - fail at start-up, not on the first socket

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(settings)
        api.state.runtime = runtime
        api.state.registry = registry_for(
            RealtimeCollector(
                runtime.hub,
                runtime.subscription,
                runtime.endpoint,
                runtime.catchup,
                runtime.presence,
                runtime.selfcheck,
                lambda: runtime.consumed,
            )
        )
        await runtime.start()
        logger.info(
            "realtime instance ready",
            extra={"instance_id": settings.instance_id, "namespace": settings.tocsin_namespace},
        )
        try:
            yield
        finally:
            await runtime.stop()
            await runtime.close()

    api = FastAPI(title="Tocsin realtime", lifespan=lifespan, docs_url=None, redoc_url=None)

    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz")
    async def readyz() -> Response:
        runtime: Runtime = api.state.runtime
        if runtime.stopping or not runtime.subscription.ready:
            return JSONResponse(
                {"error": {"code": "not_ready", "message": "not consuming from the broker"}},
                status_code=503,
            )
        return JSONResponse({"status": "ready", "instance_id": settings.instance_id})

    presence_routes.install(
        api,
        lambda: api.state.runtime.presence,
        lambda: ChannelAccess(IncidentCatchup(api.state.runtime.catchup), settings.jwt),
        settings.jwt,
    )

    @api.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(api.state.registry), media_type=CONTENT_TYPE_LATEST)

    return RealtimeApp(api)
