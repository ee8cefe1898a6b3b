"""A real SMTP server (aiosmtpd) running in the test process, with scripted replies."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, cast

from aiosmtpd.controller import Controller

from tests.support.infra import free_port


@dataclass
class Received:
    envelope_to: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def header(self, name: str) -> str:
        return str(self.message[name])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return cast(str, body.get_content())


@dataclass
class ScriptedSmtp:
    """Accepts every message unless a reply was queued with `reply_next(...)`.

    `delay_s` slows every DATA reply down (to make a batch take a while).
    """

    received: list[Received] = field(default_factory=list)
    replies: deque[str] = field(default_factory=deque)
    delay_s: float = 0.0
    port: int = 0
    controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def go_down(self) -> None:
        """Stop listening: connections to the port are refused."""
        assert self.controller is not None
        self.controller.stop()

    def come_back(self) -> None:
        """Listen again on the same port (a Controller cannot be restarted: make a new one)."""
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def reply_next(self, *replies: str) -> None:
        with self._lock:
            self.replies.extend(replies)

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def to(self, address: str) -> list[Received]:
        return [r for r in self.messages() if address in r.envelope_to]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        with self._lock:
            reply = self.replies.popleft() if self.replies else None
            if reply is not None:
                return reply
            parsed = message_from_bytes(envelope.original_content, policy=default_policy)
            self.received.append(Received(list(envelope.rcpt_tos), cast(EmailMessage, parsed)))
        return "250 2.0.0 OK"


class SmtpServer:
    def __init__(self, handler: ScriptedSmtp) -> None:
        self.handler = handler
        handler.port = handler.port or free_port()
        self.controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
        handler.controller = self.controller

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.handler.controller is not None
        self.handler.controller.stop(no_assert=True)
