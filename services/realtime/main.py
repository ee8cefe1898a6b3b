"""Running the service under uvicorn, with a shutdown that stops consuming before sockets close."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import uvicorn

from contracts.websocket import MAX_INBOUND_FRAME_BYTES
from observability.logs import configure_logging
from services.http_limits import guarded, uvicorn_options
from services.realtime.app import RealtimeApp, create_app
from services.realtime.protocol import LeanWebSocketProtocol
from services.realtime.settings import Settings


class _Server(uvicorn.Server):
    """On SIGTERM: stop consuming and close every socket with 1012, then uvicorn's shutdown."""

    def __init__(self, config: uvicorn.Config, app: RealtimeApp) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: Any = None) -> None:
        with contextlib.suppress(AttributeError):  # the lifespan never started
            await self._app.runtime.stop()
        await super().shutdown(sockets)


def websocket_protocol(ws_impl: str) -> str | type[asyncio.Protocol]:
    """uvicorn's `ws` setting for `WS_IMPL`: `websockets-sansio` is served by its lean subclass
    (same parser and behaviour, less memory per socket); any other value goes to uvicorn."""
    return LeanWebSocketProtocol if ws_impl == "websockets-sansio" else ws_impl


def run(settings: Settings) -> None:
    configure_logging("realtime", settings.log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        guarded(app, settings.http_limits),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        ws=websocket_protocol(settings.ws_impl),
        ws_max_size=MAX_INBOUND_FRAME_BYTES,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_timeout_s,
        ws_per_message_deflate=False,
        lifespan="on",
        # The service never reads the client address, and the middleware's frame would keep
        # every open socket's scope (headers, token) alive.
        proxy_headers=False,
        access_log=False,
        log_config=None,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
        backlog=4096,
        **uvicorn_options(settings.http_limits),
    )
    _Server(config, app).run()
