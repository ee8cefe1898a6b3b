"""Presence: who is online anywhere in the cluster, and who is in a channel.

Realtime instances share one Redis; `PresenceKeys` is the key layout every instance (and the
operator CLI) reads and writes, so it is a contract like a routing key. The REST answers of the
realtime service's presence routes are the models below.

Key layout under a prefix (`<TOCSIN_NAMESPACE>:presence` by default), one Redis node:

| key | type | holds |
|---|---|---|
| `<p>:instances` | sorted set | instance id → last heartbeat (ms, Redis clock) |
| `<p>:i:<instance>:users` | set | users with a socket on that instance |
| `<p>:i:<instance>:channels` | set | `<channel>\\n<user>` memberships on that instance |
| `<p>:online` | hash | user → number of instances that hold a socket of the user |
| `<p>:c:<channel>` | hash | user → number of instances where the user is in the channel |

An instance whose heartbeat is older than the dead-after bound is removed (its sets and its
share of the counts) by whichever instance notices first, in one atomic script.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

PRESENCE_MAX_USER_IDS = 100
"""At most this many ids in one `GET /api/v1/presence?user_ids=...`."""

PRESENCE_PATH = "/api/v1/presence"
PRESENCE_USERS_PATH = "/api/v1/presence/users"
CHANNEL_PRESENCE_PATH = "/api/v1/channels/{channel}/presence"


@dataclass(frozen=True)
class PresenceKeys:
    prefix: str

    @property
    def instances(self) -> str:
        return f"{self.prefix}:instances"

    @property
    def online(self) -> str:
        return f"{self.prefix}:online"

    @property
    def instance_prefix(self) -> str:
        return f"{self.prefix}:i:"

    @property
    def channel_prefix(self) -> str:
        return f"{self.prefix}:c:"

    def instance_users(self, instance_id: str) -> str:
        return f"{self.instance_prefix}{instance_id}:users"

    def instance_channels(self, instance_id: str) -> str:
        return f"{self.instance_prefix}{instance_id}:channels"

    def channel(self, channel: str) -> str:
        return f"{self.channel_prefix}{channel}"


def default_presence_prefix(namespace: str) -> str:
    return f"{namespace}:presence"


class UsersPresence(BaseModel):
    """`GET /api/v1/presence?user_ids=a,b` → `{"users": {"a": true, "b": false}}`."""

    model_config = ConfigDict(extra="ignore")

    users: dict[str, bool]


class OnlineUsers(BaseModel):
    """`GET /api/v1/presence/users` → every user with a socket on a live instance."""

    model_config = ConfigDict(extra="ignore")

    user_ids: list[str]


class ChannelPresence(BaseModel):
    """`GET /api/v1/channels/{channel}/presence` → the users in the channel."""

    model_config = ConfigDict(extra="ignore")

    channel: str
    user_ids: list[str]


class PresenceAction(StrEnum):
    JOIN = "join"
    LEAVE = "leave"


class PresenceChange(BaseModel):
    """Data of the `presence:join` / `presence:leave` socket events, sent to a channel's
    subscribers that asked for presence (`"presence": true` when subscribing). A leave is sent
    only after the leave delay, and only when the user left on every instance."""

    model_config = ConfigDict(extra="ignore")

    channel: str = Field(min_length=1, max_length=255)
    user_id: str = Field(min_length=1, max_length=255)
    action: PresenceAction
