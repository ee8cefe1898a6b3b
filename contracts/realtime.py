"""Commands other services send to the realtime service through the broker.

A `RealtimePush` is published on the events exchange with routing key
`realtime.push.<user key>` (one user) or `realtime.push.all` (every connected socket), i.e.
`contracts.topology.routing_key(REALTIME_PUSH, user_id)` with `user_id="*"` for everyone.
Every realtime instance that holds a socket of that user sends the message to all of them;
nothing is stored, so a user who is not connected does not get it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.websocket import ServerEvent

REALTIME_PUSH = "realtime.push"


class RealtimePush(BaseModel):
    """Send `{"event": event, "data": data, "timestamp": ...}` to every socket of `user_id`.

    `user_id` is `"*"` for every connected socket. `seq`, when set, is carried to the client
    and lets it drop a message it has already applied.
    """

    model_config = ConfigDict(extra="ignore")

    user_id: str = Field(min_length=1, max_length=255)
    event: ServerEvent
    data: dict[str, Any] = Field(default_factory=dict)
    seq: int | None = Field(default=None, ge=1)
