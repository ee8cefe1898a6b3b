"""Webhook receiver for scripts/compose-test (a test service, not part of Tocsin): records
every POST (path, headers, body) and lists them at GET /received, newest last."""

from __future__ import annotations

import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = 9000
received: list[dict[str, object]] = []
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        with lock:
            received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self._send(204, b"")

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/received":
            with lock:
                data = json.dumps(received).encode()
            self._send(200, data)
        elif self.path == "/healthz":
            self._send(200, b"ok")
        else:
            self._send(404, b"")

    def _send(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ThreadingHTTPServer(("0.0.0.0", PORT), Receiver).serve_forever()
