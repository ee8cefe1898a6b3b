#!/usr/bin/python3
"""Test stand-in for Mailpit: accepts mail on :1025 and serves a subset of Mailpit's API on
:8025 (GET /api/v1/messages, GET /api/v1/message/<ID>, GET /api/v1/message/<ID>/headers,
DELETE /api/v1/messages, GET /readyz). `mailpit readyz` exits 0 when the API answers.

Messages are kept in memory, newest first, as Mailpit lists them."""

from __future__ import annotations

import email
import email.policy
import json
import signal
import sys
import threading
import urllib.request
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

SMTP_PORT = 1025
HTTP_PORT = 8025


class Mailbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []

    def add(self, raw: bytes, recipients: list[str]) -> None:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        text = parsed.get_body(("plain",))
        html = parsed.get_body(("html",))
        message = {
            "ID": uuid.uuid4().hex,
            "MessageID": str(parsed.get("Message-ID", "")).strip("<>"),
            "From": _address(str(parsed.get("From", ""))),
            "To": [_address(a) for a in recipients],
            "Subject": str(parsed.get("Subject", "")),
            "Created": datetime.now(UTC).isoformat(),
            "Size": len(raw),
            "Text": text.get_content() if text is not None else "",
            "HTML": html.get_content() if html is not None else "",
            "Headers": _headers(parsed),
        }
        with self._lock:
            self._messages.insert(0, message)

    def summaries(self) -> list[dict[str, Any]]:
        keep = ("ID", "MessageID", "From", "To", "Subject", "Created", "Size")
        with self._lock:
            return [{k: m[k] for k in keep} for m in self._messages]

    def get(self, message_id: str) -> dict[str, Any] | None:
        with self._lock:
            return next((m for m in self._messages if m["ID"] == message_id), None)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


def _address(text: str) -> dict[str, str]:
    name, address = getaddresses([text])[0]
    return {"Name": name, "Address": address}


def _headers(message: EmailMessage) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for key, value in message.items():
        headers.setdefault(key, []).append(str(value))
    return headers


class SmtpHandler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.mailbox.add(envelope.original_content or envelope.content, list(envelope.rcpt_tos))
        return "250 Message accepted"


def api_handler(mailbox: Mailbox) -> type[BaseHTTPRequestHandler]:
    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path in ("/readyz", "/livez"):
                self._send(200, {"status": "ok"})
            elif path == "/api/v1/messages":
                items = mailbox.summaries()
                self._send(200, {"total": len(items), "count": len(items), "messages": items})
            elif path.startswith("/api/v1/message/"):
                parts = path.split("/")
                found = mailbox.get(parts[4])
                if found is None:
                    self._send(404, {"error": "message not found"})
                elif len(parts) == 6 and parts[5] == "headers":
                    self._send(200, found["Headers"])
                else:
                    self._send(200, {k: v for k, v in found.items() if k != "Headers"})
            else:
                self._send(404, {"error": "not found"})

        def do_DELETE(self) -> None:
            if self.path.rstrip("/") == "/api/v1/messages":
                mailbox.clear()
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {"error": "not found"})

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Api


def main(argv: list[str]) -> int:
    if argv[1:] == ["readyz"]:
        with urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}/readyz", timeout=2):
            return 0
    mailbox = Mailbox()
    smtp = Controller(SmtpHandler(mailbox), hostname="0.0.0.0", port=SMTP_PORT)
    smtp.start()
    print(f"mailpit stand-in: SMTP on :{SMTP_PORT}, API on :{HTTP_PORT}", flush=True)
    server = ThreadingHTTPServer(("0.0.0.0", HTTP_PORT), api_handler(mailbox))
    # PID 1 in a container: without a handler SIGTERM would be ignored until the kill.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        smtp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
