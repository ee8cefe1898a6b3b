"""A real HTTP receiver for webhook tests: a uvicorn server on 127.0.0.1 whose answers are
scripted per path, and which verifies every delivery with the `standardwebhooks` reference
library (the secret of each path is registered by the test)."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.infra import free_port
from tests.support.waiting import eventually


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    body: bytes = b"ok"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    payload: Any
    replied: int

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.secrets: dict[str, str] = {}
        self.scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.default_delay_s = 0.0
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST", "GET"])])
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._task: asyncio.Task[None] | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def script(self, path: str, *replies: Reply | int) -> None:
        """Answer the next requests to `path` with these replies, then 200."""
        for reply in replies:
            self.scripts[path.lstrip("/")].append(
                reply if isinstance(reply, Reply) else Reply(reply)
            )

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path.lstrip("/")]

    async def _handle(self, request: Request) -> Response:
        path = request.path_params["path"]
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        payload: Any = None
        verified = False
        secret = self.secrets.get(path)
        if secret is not None:
            try:
                payload = Webhook(secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        queue = self.scripts.get(path)
        reply = queue.popleft() if queue else Reply()
        if secret is not None and not verified:
            reply = Reply(401, body=b"bad signature")
        delay = reply.delay_s or self.default_delay_s
        if delay:
            await asyncio.sleep(delay)
        self.received.append(Received(path, headers, body, verified, payload, reply.status))
        return Response(reply.body, status_code=reply.status, headers=reply.headers)

    async def start(self) -> Receiver:
        self._task = asyncio.create_task(self._server.serve())
        await eventually(lambda: self._server.started, what="receiver started")
        return self

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
