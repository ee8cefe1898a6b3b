"""Commands other services send to the realtime service through the broker.

A `RealtimePush` is published on the events exchange with routing key
`realtime.push.<user key>` (one user) or `realtime.push.all` (every connected socket), i.e.
`contracts.topology.routing_key(REALTIME_PUSH, user_id)` with `user_id="*"` for everyone.
Every realtime instance that holds a socket of that user sends the message to all of them;
nothing is stored, so a user who is not connected does not get it.

`event` is one of the protocol's server events (`notification:new`, `stats:updated`, ...) or
an application's own, namespaced name matching CUSTOM_EVENT_PATTERN (`app:deploy-finished`,
`billing:invoice.paid`). Custom events are ephemeral like every push: never in the event store,
never replayed after a reconnect, without `seq` unless the publisher sets one. The protocol's
namespaces (`connection:`, `notification:`, `stats:`) and the names `pong` and `error` are
reserved, so a push can never pass for the server's own handshake or replies.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.websocket import ServerEvent

REALTIME_PUSH = "realtime.push"
RESERVED_EVENT_NAMESPACES = ("connection", "notification", "stats")
CUSTOM_EVENT_PATTERN = (
    r"^(?!(?:" + "|".join(RESERVED_EVENT_NAMESPACES) + r"):)"
    r"[a-z][a-z0-9_-]{0,31}:[a-z0-9][a-z0-9_.:-]{0,95}$"
)
PUSH_EVENT_PATTERN = (
    r"^(?:" + "|".join(re.escape(e.value) for e in ServerEvent) + r")$|" + CUSTOM_EVENT_PATTERN
)
"""What `RealtimePush.event` accepts: a protocol server event or a custom namespaced name."""
_PUSH_EVENT = re.compile(PUSH_EVENT_PATTERN)


def is_pushable_event(name: str) -> bool:
    """True for a protocol server event or a namespaced custom name (see the module docstring)."""
    return bool(_PUSH_EVENT.match(name))


class RealtimePush(BaseModel):
    """Send `{"event": event, "data": data, "timestamp": ...}` to every socket of `user_id`.

    `user_id` is `"*"` for every connected socket. `seq`, when set, is carried to the client
    and lets it drop a message it has already applied.
    """

    model_config = ConfigDict(extra="ignore", regex_engine="python-re")

    user_id: str = Field(min_length=1, max_length=255)
    event: str = Field(
        max_length=128,
        pattern=PUSH_EVENT_PATTERN,
        description="A protocol server event, or a custom `namespace:name` matching "
        "CUSTOM_EVENT_PATTERN (connection:, notification:, stats: are reserved).",
        examples=["notification:new", "app:deploy-finished"],
    )
    data: dict[str, Any] = Field(default_factory=dict)
    seq: int | None = Field(default=None, ge=1)
