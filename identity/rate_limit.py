"""Rate limits: token buckets per key, shared by the services' APIs and webhook delivery.

`CallerLimits` limits requests per caller (a token bucket for each token `sub`) and refuses
what is over the rate; `TokenBuckets.reserve` instead books the next free slot, for callers
that must delay work rather than drop it (webhook deliveries per endpoint).

People (tokens without a service scope) and services (any of `identity.tokens.SERVICE_SCOPES`)
have separate rates, each a `Rate` from the settings; a rate of 0 turns that limit off. A
caller over its rate gets 429 `rate_limited` with `Retry-After`, before the request does any
work. Buckets live in the process: with several workers or instances each one
enforces the rate on its own share of the traffic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from identity import Claims
from identity.tokens import SERVICE_SCOPES

MAX_TRACKED_CALLERS = 100_000
"""Buckets kept at most; past it the least recently seen caller's bucket is forgotten (that
caller starts again with a full bucket)."""


@dataclass(frozen=True)
class Rate:
    per_s: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_s > 0


class RateLimited(Exception):
    """The caller is over its rate; `retry_after_s` until its next request is admitted."""

    code = "rate_limited"

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many requests; retry after {retry_after_s:.2f} s")
        self.message = str(self)
        self.retry_after_s = retry_after_s


class TokenBuckets:
    """One bucket of `rate.burst` tokens per key, refilled at `rate.per_s` tokens a second."""

    def __init__(
        self,
        rate: Rate,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_TRACKED_CALLERS,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at), oldest first

    def take(self, key: str) -> float:
        """Take one token for `key`: 0.0 when admitted, else the seconds until one is free."""
        now = self._clock()
        tokens, at = self._buckets.pop(key, (float(self.rate.burst), now))
        tokens = min(float(self.rate.burst), tokens + (now - at) * self.rate.per_s)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate.per_s
        self._buckets[key] = (tokens, now)  # re-inserted: the dict stays in order of last use
        if len(self._buckets) > self._max_keys:
            del self._buckets[next(iter(self._buckets))]
        return wait

    def reserve(self, key: str) -> float:
        """Book the next token for `key` and return the seconds to wait before using it (0.0
        when one is free now). Unlike `take`, the token is always taken: the bucket may go
        negative, so callers that reserve one after the other are spaced at the rate."""
        now = self._clock()
        tokens, at = self._buckets.pop(key, (float(self.rate.burst), now))
        tokens = min(float(self.rate.burst), tokens + (now - at) * self.rate.per_s) - 1.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            del self._buckets[next(iter(self._buckets))]
        return max(0.0, -tokens / self.rate.per_s)

    def __len__(self) -> int:
        return len(self._buckets)


class CallerLimits:
    """The rate limits of an API (notification, webhook), applied to each authenticated call."""

    def __init__(self, people: Rate, services: Rate) -> None:
        self._people = TokenBuckets(people) if people.enabled else None
        self._services = TokenBuckets(services) if services.enabled else None

    def admit(self, claims: Claims) -> None:
        """Raise RateLimited when the caller is over its rate."""
        is_service = any(claims.has_scope(scope) for scope in SERVICE_SCOPES)
        buckets = self._services if is_service else self._people
        if buckets is None:
            return
        wait = buckets.take(claims.user_id)
        if wait > 0:
            raise RateLimited(wait)
