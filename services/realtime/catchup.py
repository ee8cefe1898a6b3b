"""Fetching a user's missed events, or only their latest seq, from the notification service.

The sequence that makes a reconnect lossless and duplicate-free (see `endpoint.py`):
bind the user's routing key, park live events on the socket, fetch the events after `since`,
send them in seq order, then send the parked ones with a seq above the last one sent; from then
on drop every event whose seq is not above the last one sent.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from contracts.events import EventEnvelope
from identity import JwtSettings, mint_token

logger = logging.getLogger(__name__)

EVENTS_READ_SCOPE = "events:read"
MAX_IN_FLIGHT = 8
QUEUE_TIMEOUTS = 2
"""Requests to the notification service at once; the others wait their turn, at most
QUEUE_TIMEOUTS request timeouts, then the caller falls back as if the service were down."""


class CatchupUnavailable(Exception):
    """The notification service could not be asked (down, timeout, refused, bad answer)."""


class _EventsPage(BaseModel):
    events: list[EventEnvelope]
    latest_seq: int
    complete: bool


@dataclass(frozen=True)
class Missed:
    """The events after `since`, sorted by seq; `complete` is False when there were more than
    the limit (the client should reload instead)."""

    events: list[EventEnvelope]
    latest_seq: int
    complete: bool


class CatchupClient:
    def __init__(
        self,
        base_url: str,
        jwt: JwtSettings,
        token: str | None,
        limit: int,
        timeout_s: float,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.limit = limit
        self._jwt = jwt
        self._token = token
        self._timeout_s = timeout_s
        # httpx spends CPU per waiting request on each pool change, quadratic in the queue: with
        # hundreds of handshakes at once the client, not the notification service, was the
        # bottleneck. Requests wait here instead, in a plain FIFO.
        self._slots = asyncio.Semaphore(max_in_flight)
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            limits=httpx.Limits(
                max_connections=max_in_flight, max_keepalive_connections=max_in_flight
            ),
        )

    def _bearer(self) -> str:
        if self._token:
            return self._token
        return mint_token(self._jwt, "realtime", scopes=[EVENTS_READ_SCOPE], ttl_s=300)

    async def missed(self, user_id: str, since: int) -> Missed:
        """Every event of `user_id` after `since`, up to the limit; raises CatchupUnavailable."""
        page = await self._page(user_id, since, self.limit)
        events = sorted((e for e in page.events if e.seq is not None), key=lambda e: e.seq or 0)
        complete = page.complete and len(events) <= self.limit
        return Missed(events=events, latest_seq=page.latest_seq, complete=complete)

    async def latest_seq(self, user_id: str, known: int) -> int:
        """The user's latest seq in the event store (at least `known`, which this instance has
        already seen): the smallest page after `known`, of which only `latest_seq` is used.
        Raises CatchupUnavailable."""
        page = await self._page(user_id, known, 1)
        return max(page.latest_seq, known)

    async def _page(self, user_id: str, after_seq: int, limit: int) -> _EventsPage:
        path = f"/api/v1/internal/users/{quote(user_id, safe='')}/events"
        try:
            async with asyncio.timeout(QUEUE_TIMEOUTS * self._timeout_s):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise CatchupUnavailable("no free request slot within the timeout") from exc
        try:
            response = await self._client.get(
                path,
                params={"after_seq": after_seq, "limit": limit},
                headers={"Authorization": f"Bearer {self._bearer()}"},
            )
        except (httpx.HTTPError, ValueError) as exc:
            raise CatchupUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._slots.release()
        if response.status_code != 200:
            raise CatchupUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            return _EventsPage.model_validate_json(response.content)
        except ValidationError as exc:
            raise CatchupUnavailable(f"unexpected answer: {exc.error_count()} errors") from exc

    async def close(self) -> None:
        await self._client.aclose()
