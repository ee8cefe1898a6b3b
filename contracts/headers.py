"""AMQP message headers that carry meaning between Tocsin's parts.

- `traceparent`: W3C trace context of the request that caused the event; consumers log its
  trace id so one notification can be followed end to end.
- `x-tocsin-replay: true`: the message was re-published by `tocsin replay` from the event
  store to one consumer's queue. Consumers handle it exactly like a first delivery: their
  idempotency by `event_id` skips what they already delivered.
- `x-tocsin-force: true` (only together with replay): the operator asked to re-deliver even
  what was already delivered (e.g. the emails went to a broken mailbox). A consumer that sees
  it must deliver again instead of skipping a processed `event_id`.
- `x-tocsin-attempt`, `x-tocsin-reason`, `x-tocsin-detail`: retry bookkeeping written by
  `messaging.consuming.RetryingConsumer` (attempt number, stable failure code, text).
"""

from __future__ import annotations

TRACEPARENT_HEADER = "traceparent"
REPLAY_HEADER = "x-tocsin-replay"
FORCE_HEADER = "x-tocsin-force"
ATTEMPT_HEADER = "x-tocsin-attempt"
REASON_HEADER = "x-tocsin-reason"
DETAIL_HEADER = "x-tocsin-detail"


def is_replay(headers: dict[str, object] | None) -> bool:
    return bool((headers or {}).get(REPLAY_HEADER))


def is_forced(headers: dict[str, object] | None) -> bool:
    """True when a replayed message must be delivered even if it was delivered before."""
    headers = headers or {}
    return bool(headers.get(REPLAY_HEADER)) and bool(headers.get(FORCE_HEADER))
