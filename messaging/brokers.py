"""Connecting to RabbitMQ when it runs as several nodes: `AMQP_URL` may list them.

`AMQP_URL=amqp://u:p@rabbit-1:5672/,amqp://u:p@rabbit-2:5672/,amqp://u:p@rabbit-3:5672/`
names the nodes of one cluster. A connection tries them in order and takes the first that
answers; a robust connection that loses its node reconnects to the next one, round the list,
so a service follows the cluster when a node dies. Every address shown in a log line or an
error has its password replaced by `***`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractRobustConnection
from aio_pika.robust_connection import RobustConnection

logger = logging.getLogger(__name__)


class BrokerUnreachable(ConnectionError):
    """No address of `AMQP_URL` accepted a connection; the message names them, redacted."""


def broker_urls(value: str) -> tuple[str, ...]:
    """The addresses of a comma-separated `AMQP_URL`, in order, blanks dropped.

    Raises ValueError for an empty list or an address that is not amqp:// or amqps://."""
    urls = tuple(part.strip() for part in value.split(",") if part.strip())
    if not urls:
        raise ValueError("AMQP_URL names no broker")
    for url in urls:
        if urlsplit(url).scheme not in ("amqp", "amqps"):
            raise ValueError(f"AMQP_URL entry is not amqp:// or amqps://: {redact_url(url)}")
    return urls


def redact_url(url: str) -> str:
    """The URL with its password replaced by `***` (for logs and error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit((parts.scheme, f"{user}:***@{hostinfo}", parts.path, parts.query, ""))


def redact_urls(value: str) -> str:
    """Every address of a comma-separated `AMQP_URL` with its password replaced by `***`."""
    return ",".join(redact_url(part.strip()) for part in value.split(",") if part.strip())


async def connect(amqp_url: str, *, timeout: float = 10.0) -> AbstractConnection:
    """A plain connection to the first address of `amqp_url` that answers.

    Raises BrokerUnreachable when none does (within `timeout` each)."""
    errors: list[str] = []
    for url in broker_urls(amqp_url):
        try:
            return await aio_pika.connect(url, timeout=timeout)
        except Exception as exc:
            errors.append(f"{redact_url(url)}: {exc or type(exc).__name__}")
    raise BrokerUnreachable("cannot reach RabbitMQ at " + "; ".join(errors))


async def connect_robust(
    amqp_url: str, *, timeout: float = 10.0, **kwargs: Any
) -> AbstractRobustConnection:
    """A connection that reconnects by itself, moving to the next address of `amqp_url`
    whenever an attempt fails or the node it was on goes away.

    The first connection must succeed on some address: raises BrokerUnreachable otherwise."""
    urls = broker_urls(amqp_url)
    last: Exception | None = None
    for start, url in enumerate(urls):
        connection = FailoverConnection(urls, start=start, **kwargs)
        try:
            await connection.connect(timeout=timeout)
            return connection
        except Exception as exc:
            last = exc
            logger.warning("cannot reach RabbitMQ at %s: %s", redact_url(url), exc)
            await connection.close()
    raise BrokerUnreachable(
        f"cannot reach RabbitMQ at {redact_urls(amqp_url)}: {last or 'no answer'}"
    )


class FailoverConnection(RobustConnection):
    """aio-pika's robust connection, over several addresses: each (re)connection attempt after
    the first takes the next address of the list, so losing a node moves to another one.

    aio-pika keeps one URL per connection and retries only it; the attempt is a private
    method (`__connect_transport`, pinned by the aio-pika version in pyproject.toml) and this
    class sets the URL before each call of it."""

    def __init__(self, urls: tuple[str, ...], *, start: int = 0, **kwargs: Any) -> None:
        super().__init__(aio_pika.connection.make_url(urls[start]), **kwargs)
        self._urls = urls
        self._next: Iterator[str] = itertools.islice(itertools.cycle(urls), start, None)
        self._attempts = 0

    async def _RobustConnection__connect_transport(self) -> None:
        url = next(self._next)
        if self._attempts:
            logger.warning("connecting to RabbitMQ at %s", redact_url(url))
        self._attempts += 1
        self.url = aio_pika.connection.make_url(url)
        await RobustConnection._RobustConnection__connect_transport(self)  # type: ignore[attr-defined]
