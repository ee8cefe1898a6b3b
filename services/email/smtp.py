"""Sending over SMTP with a small pool of open connections (aiosmtplib).

Every failure is classified once here: a 4xx reply, a refused or dropped connection or a
timeout is `SmtpTransient` (worth retrying); a 5xx reply to the message is `SmtpPermanent`.
A failure while connecting (greeting, TLS, login — even a 535 for a wrong password) is
transient: it is about this service's setup, not the message, and retrying gives an
operator time to fix it instead of dead-lettering every email.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiosmtplib

from services.email.composition import OutgoingEmail
from services.email.settings import Settings, SmtpSecurity

logger = logging.getLogger(__name__)


class SmtpFailure(Exception):
    def __init__(self, code: int | None, detail: str) -> None:
        super().__init__(f"{code} {detail}" if code else detail)
        self.code = code
        self.detail = detail


class SmtpTransient(SmtpFailure):
    """A 4xx reply, a connection failure or a timeout: the same message may succeed later."""


class SmtpPermanent(SmtpFailure):
    """A 5xx reply: the server refuses this message or recipient for good."""


@dataclass(frozen=True)
class SmtpOptions:
    host: str
    port: int
    security: SmtpSecurity = SmtpSecurity.NONE
    username: str | None = None
    password: str | None = None
    timeout_s: float = 30.0
    validate_certs: bool = True
    ca_file: str | None = None
    connections: int = 4

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpOptions:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout_s=settings.smtp_timeout_s,
            validate_certs=settings.smtp_validate_certs,
            ca_file=settings.smtp_ca_file,
            connections=settings.smtp_connections,
        )


class SmtpPool:
    """At most `options.connections` sends in flight, each on a connection of its own.

    Connections are reused between messages and dropped after any error. A reused connection
    that the server closed while idle is replaced once, transparently.
    """

    def __init__(self, options: SmtpOptions) -> None:
        self.options = options
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(options.connections)

    async def send(self, message: OutgoingEmail) -> str:
        """Send one message; returns the server's reply to DATA. Raises SmtpTransient or
        SmtpPermanent."""
        async with self._slots:
            client, reused = await self._checkout()
            try:
                reply = await self._send_on(client, message)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
                await _close(client)
                if not reused:
                    raise classify(exc) from exc
                client, _ = await self._fresh()
                try:
                    reply = await self._send_on(client, message)
                except Exception as again:
                    await _close(client)
                    raise classify(again) from again
            except Exception as exc:
                await _close(client)
                raise classify(exc) from exc
            self._idle.append(client)
            return reply

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await _close(client)

    async def _checkout(self) -> tuple[aiosmtplib.SMTP, bool]:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client, True
            await _close(client)
        return await self._fresh()

    async def _fresh(self) -> tuple[aiosmtplib.SMTP, bool]:
        options = self.options
        client = aiosmtplib.SMTP(
            hostname=options.host,
            port=options.port,
            use_tls=options.security is SmtpSecurity.TLS,
            start_tls=options.security is SmtpSecurity.STARTTLS,
            username=options.username,
            password=options.password,
            timeout=options.timeout_s,
            validate_certs=options.validate_certs,
            cert_bundle=options.ca_file,
        )
        try:
            await client.connect()
        except Exception as exc:  # greeting, TLS or login: about our setup, not the message
            await _close(client)
            failure = classify(exc)
            raise SmtpTransient(failure.code, failure.detail) from exc
        return client, False

    @staticmethod
    async def _send_on(client: aiosmtplib.SMTP, message: OutgoingEmail) -> str:
        errors, reply = await client.sendmail(message.sender, [message.recipient], message.data)
        if errors:  # some recipients refused (we send to one, so this is rare)
            code, text = next(iter(errors.values()))
            failure = SmtpPermanent if code >= 500 else SmtpTransient
            raise failure(code, text)
        return reply


def classify(exc: BaseException) -> SmtpFailure:
    """Map an aiosmtplib or socket error to SmtpTransient / SmtpPermanent."""
    if isinstance(exc, SmtpFailure):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        failure = SmtpPermanent if first.code >= 500 else SmtpTransient
        return failure(first.code, first.message)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(
        exc, aiosmtplib.SMTPServerDisconnected
    ):
        if 500 <= exc.code < 600:
            return SmtpPermanent(exc.code, exc.message)
        return SmtpTransient(exc.code, exc.message)
    return SmtpTransient(None, f"{type(exc).__name__}: {exc}")


async def _close(client: aiosmtplib.SMTP) -> None:
    try:
        if client.is_connected:
            await asyncio.wait_for(client.quit(), timeout=2.0)
    except Exception:
        client.close()
