"""The baseline of `bench.realtime_vs_socketio`: python-socketio's AsyncServer scaled over RabbitMQ
with AsyncAioPikaManager, the usual Python way to push to WebSockets from several processes.

Same server stack as the realtime service (uvicorn, uvloop, httptools, the same WebSocket
implementation, no compression). A client connects with `auth={"token": <JWT>}`; the token
is checked with the same `identity.verify_token` and the socket joins the room of its user.

python -m bench.socketio_baseline   (PORT, AMQP_URL, JWT_SECRET, SOCKETIO_CHANNEL, WS_IMPL)
"""

from __future__ import annotations

import os
from typing import Any

import socketio
import uvicorn

from identity import JwtSettings, TokenError, verify_token


def create_app(amqp_url: str, channel: str, jwt: JwtSettings) -> socketio.ASGIApp:
    manager = socketio.AsyncAioPikaManager(amqp_url, channel=channel)
    sio = socketio.AsyncServer(
        async_mode="asgi", client_manager=manager, cors_allowed_origins="*", ping_interval=30
    )

    @sio.event  # type: ignore[misc]
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None) -> None:
        try:
            claims = verify_token((auth or {}).get("token"), jwt)
        except TokenError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.code) from exc
        await sio.enter_room(sid, claims.user_id)

    async def health(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return socketio.ASGIApp(sio, other_asgi_app=health)


def main() -> None:
    app = create_app(
        os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        os.environ.get("SOCKETIO_CHANNEL", "socketio"),
        JwtSettings(secret=os.environ["JWT_SECRET"]),
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "8101")),
        loop="uvloop",
        http="httptools",
        ws=os.environ.get("WS_IMPL", "websockets-sansio"),
        ws_per_message_deflate=False,
        log_level="warning",
        backlog=4096,
    )


if __name__ == "__main__":
    main()
