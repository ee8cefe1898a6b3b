"""A real HTTP receiver for webhook deliveries: a threaded server on 127.0.0.1 that records every
request, verifies the Standard Webhooks signature of each path whose secret the test gave it
(with the `standardwebhooks` reference library), and answers as the test scripted.

It runs on threads of its own, so a synchronous test, an asynchronous one and the services it
starts as processes all see the same server. A signed path whose signature does not verify is
answered 401, as a careful receiver would.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


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
    """Lower-cased names."""
    body: bytes
    verified: bool
    payload: Any
    """The verified payload; for an unverified request, its body as JSON (None if it is not)."""
    replied: int

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


class WebhookReceiver:
    """Answers each path with its scripted replies in order, then with its standing reply in
    `replies`, then 200 "ok"; `default_delay_s` slows every answer that has no delay of its own."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        """path → the endpoint's signing secret."""
        self.replies: dict[str, Reply] = {}
        """path → the reply given once its script is used up (a redirect, a 500, say)."""
        self.default_delay_s = 0.0
        self.received: list[Received] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def script(self, path: str, *replies: Reply | int) -> None:
        """Answer the next requests to `path` with these replies (a status alone means that
        status with the default body), then as before."""
        with self._lock:
            self._scripts[path.lstrip("/")].extend(
                reply if isinstance(reply, Reply) else Reply(reply) for reply in replies
            )

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path.lstrip("/")]

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        secret = self.secrets.get(path)
        verified, payload = False, None
        if secret is not None:
            with suppress(WebhookVerificationError):
                payload = Webhook(secret).verify(body, headers)
                verified = True
        if payload is None:
            with suppress(ValueError):
                payload = json.loads(body)
        with self._lock:
            script = self._scripts.get(path)
            reply = script.popleft() if script else self.replies.get(path, Reply())
        if secret is not None and not verified:
            reply = Reply(401, body=b"bad signature")
        delay = reply.delay_s or self.default_delay_s
        if delay:
            time.sleep(delay)
        with self._lock:
            self.received.append(Received(path, headers, body, verified, payload, reply.status))
        return reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                reply = receiver._answer(self.path.lstrip("/"), headers, body)
                with suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
