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
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from contracts.events import EventEnvelope
from identity import JwtSettings, mint_token
from identity.tokens import EVENTS_READ_SCOPE
from services.realtime.latest_seqs import LatestSeqBatcher

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 8
LATEST_SEQS_BATCH = 1000  # the notification service's maximum per request
QUEUE_TIMEOUTS = 2
"""Requests to the notification service at once; the others wait their turn, at most
QUEUE_TIMEOUTS request timeouts, then the caller falls back as if the service were down."""


class CatchupUnavailable(Exception):
    """The notification service could not be asked (down, timeout, refused, bad answer)."""


class _LatestSeqs(BaseModel):
    seqs: dict[str, int]


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
        self._latest = LatestSeqBatcher(self._latest_seqs, LATEST_SEQS_BATCH, CatchupUnavailable)
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
        already seen). Questions asked while one is in flight go together in the next request.
        Raises CatchupUnavailable."""
        try:
            async with asyncio.timeout(QUEUE_TIMEOUTS * self._timeout_s):
                latest = await self._latest.latest_seq(user_id)
        except TimeoutError as exc:
            raise CatchupUnavailable("no answer within the timeout") from exc
        return max(latest, known)

    async def first_position_after(self, user_id: str, after_seq: int) -> int | None:
        """The event store position of the user's first event after `after_seq` (None when
        there is none, or it has none). Raises CatchupUnavailable."""
        page = await self._page(user_id, after_seq, 1)
        return next((e.position for e in page.events if e.seq == after_seq + 1), None)

    async def latest_seqs(self, user_ids: list[str]) -> dict[str, int]:
        """Each user's latest seq in the event store, 1,000 users a request, not coalesced
        with the handshakes' questions. Raises CatchupUnavailable."""
        seqs: dict[str, int] = {}
        for start in range(0, len(user_ids), LATEST_SEQS_BATCH):
            seqs.update(await self._latest_seqs(user_ids[start : start + LATEST_SEQS_BATCH]))
        return seqs

    @property
    def latest_seq_requests(self) -> int:
        return self._latest.requests

    async def _latest_seqs(self, user_ids: list[str]) -> dict[str, int]:
        response = await self._request(
            "POST", "/api/v1/internal/latest-seqs", json={"user_ids": user_ids}
        )
        try:
            return _LatestSeqs.model_validate_json(response.content).seqs
        except ValidationError as exc:
            raise CatchupUnavailable(f"unexpected answer: {exc.error_count()} errors") from exc

    async def _page(self, user_id: str, after_seq: int, limit: int) -> _EventsPage:
        path = f"/api/v1/internal/users/{quote(user_id, safe='')}/events"
        response = await self._request("GET", path, params={"after_seq": after_seq, "limit": limit})
        try:
            return _EventsPage.model_validate_json(response.content)
        except ValidationError as exc:
            raise CatchupUnavailable(f"unexpected answer: {exc.error_count()} errors") from exc

    async def get(
        self, path: str, params: dict[str, Any], ok: tuple[int, ...] = (200,)
    ) -> httpx.Response:
        """GET `path` of the notification service (the same slots, token and timeout as the
        catch-up); raises CatchupUnavailable unless the status is one of `ok`."""
        return await self._request("GET", path, ok=ok, params=params)

    async def _request(
        self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> httpx.Response:
        """One request in a free slot; raises CatchupUnavailable unless it answered 200."""
        try:
            async with asyncio.timeout(QUEUE_TIMEOUTS * self._timeout_s):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise CatchupUnavailable("no free request slot within the timeout") from exc
        try:
            response = await self._client.request(
                method, path, headers={"Authorization": f"Bearer {self._bearer()}"}, **kwargs
            )
        except (httpx.HTTPError, ValueError) as exc:
            raise CatchupUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._slots.release()
        if response.status_code not in ok:
            raise CatchupUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
        return response

    async def close(self) -> None:
        await self._latest.close()
        await self._client.aclose()
