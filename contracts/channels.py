"""Channels: named streams a socket subscribes to beside its personal stream.

A channel name is `<namespace>:<name>` (`CHANNEL_PATTERN`). `incident:<incident id>` channels
carry durable `incident:updated` events (per-incident, gap-free `seq`, catch-up like the
personal stream) and are authorised by Tocsin itself; any other namespace is authorised by a
channel token minted by the application's backend (a JWT signed with Tocsin's key, `sub` = the
user, `channel` = the channel, `exp` required). Typing indicators are ephemeral on every channel.

On the broker a channel event has routing key `<type>.<channel key>`; the channel key (`c` and
16 hex digits of SHA-256 over the name) never equals a 16-hex user key, so a channel's binding
never receives a user's events and a user's never a channel's.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.incidents import Comment, IncidentEventType, Person, Severity

CHANNEL_PATTERN = r"^[a-z][a-z0-9_-]{0,31}:[A-Za-z0-9._~@=+-]{1,200}$"
INCIDENT_NAMESPACE = "incident"
TYPING_SIGNAL = "realtime.typing"
TYPING_THROTTLE_S = 2.0
"""At most one `typing` start is relayed per user and channel in this many seconds."""
TYPING_EXPIRY_S = 5.0
"""A `typing` start without renewal is over after this long (the client shows it no longer)."""

_CHANNEL = re.compile(CHANNEL_PATTERN)


def is_channel(name: object) -> bool:
    return isinstance(name, str) and _CHANNEL.match(name) is not None


def channel_key(channel: str) -> str:
    """The routing-key word of a channel (17 characters: never a user key)."""
    return "c" + hashlib.sha256(b"channel:" + channel.encode()).hexdigest()[:16]


def channel_binding(channel: str) -> str:
    """Binding key that receives every event of one channel."""
    return f"*.*.{channel_key(channel)}"


def incident_channel(incident_id: str) -> str:
    return f"{INCIDENT_NAMESPACE}:{incident_id}"


def incident_of(channel: str) -> str | None:
    """The incident id of an `incident:` channel, else None."""
    prefix = f"{INCIDENT_NAMESPACE}:"
    return channel[len(prefix) :] if channel.startswith(prefix) else None


class ChannelError(StrEnum):
    """Codes of the `error` events answering channel messages (the socket stays open)."""

    BAD_REQUEST = "bad_channel_request"
    """The message is malformed: no channel, `since` not a seq, `token` or `state` not valid."""
    UNKNOWN_CHANNEL = "unknown_channel"
    """The name does not match `CHANNEL_PATTERN`."""
    FORBIDDEN_CHANNEL = "forbidden_channel"
    """Not allowed in: no or bad channel token, or not a participant of the incident (an
    incident that does not exist gets the same answer)."""
    TOO_MANY_CHANNELS = "too_many_channels"
    NOT_SUBSCRIBED = "not_subscribed"
    """`typing` on a channel the socket has not subscribed to."""
    CHANNEL_UNAVAILABLE = "channel_unavailable"
    """The notification service could not be asked whether the user may subscribe."""


# -- client → server ----------------------------------------------------------------------------


class Subscribe(BaseModel):
    """`{"type": "subscribe", "channel", "since"?, "token"?}`."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["subscribe"] = "subscribe"
    channel: str = Field(max_length=240, strict=True)
    since: int | None = Field(
        default=None, ge=0, le=2**63 - 1, strict=True, description="Last channel seq seen."
    )
    token: str | None = Field(
        default=None, max_length=8192, strict=True, description="A channel token."
    )


class Unsubscribe(BaseModel):
    """`{"type": "unsubscribe", "channel"}`."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["unsubscribe"] = "unsubscribe"
    channel: str = Field(max_length=240, strict=True)


class TypingState(StrEnum):
    START = "start"
    STOP = "stop"


class Typing(BaseModel):
    """`{"type": "typing", "channel", "state"?}` (client → server; `state` defaults to start)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["typing"] = "typing"
    channel: str = Field(max_length=240, strict=True)
    state: TypingState = TypingState.START


# -- server → client ----------------------------------------------------------------------------


class Subscribed(BaseModel):
    """Data of `subscribed`: the socket now receives the channel's events.

    `seq` is the channel's latest seq (0 for channels without durable events); `recovered`
    says whether every event after `since` was replayed (false: reload the state over REST).
    """

    channel: str
    seq: int = Field(ge=0)
    recovered: bool


class Unsubscribed(BaseModel):
    channel: str


class TypingNotice(BaseModel):
    """Data of `typing` (server → client): `user_id` is typing on `channel`, or stopped."""

    user_id: str
    channel: str
    state: TypingState


# -- incident:updated -------------------------------------------------------------------------


class IncidentState(BaseModel):
    """An incident as the projection holds it after a change."""

    model_config = ConfigDict(extra="ignore")

    id: str
    key: str
    title: str
    severity: Severity
    status: str
    url: str | None = None
    assignee: Person | None = None
    watchers: list[Person] = Field(default_factory=list)
    team_members: list[Person] = Field(default_factory=list)
    resolution: str | None = None
    updated_at: datetime


class IncidentChange(BaseModel):
    """What one incident event changed (the fields its type has)."""

    model_config = ConfigDict(extra="ignore")

    type: IncidentEventType
    event_id: str
    occurred_at: datetime
    previous_status: str | None = None
    new_status: str | None = None
    assignee: Person | None = None
    previous_assignee: Person | None = None
    comment: Comment | None = None
    resolution: str | None = None


class IncidentUpdated(BaseModel):
    """`incident.updated` (data of the event on the events exchange, and of the socket event
    `incident:updated`): the incident after the change, the change, who made it, and the
    incident's gap-free `seq` (1 for its first event)."""

    model_config = ConfigDict(extra="ignore")

    channel: str
    incident: IncidentState
    change: IncidentChange
    actor: Person | None = None
    seq: int = Field(ge=1)


class TypingSignal(BaseModel):
    """A typing indicator between realtime instances: routing key
    `realtime.typing.<channel key>`, non-persistent, never stored."""

    model_config = ConfigDict(extra="ignore")

    channel: str = Field(max_length=240)
    user_id: str = Field(min_length=1, max_length=255)
    state: TypingState
