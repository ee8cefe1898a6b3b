"""The WebSocket protocol between the realtime service and browsers (DESIGN.md §5)."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

WS_PATH = "/api/v1/ws/notifications"
MAX_INBOUND_FRAME_BYTES = 64 * 1024


class CloseCode(IntEnum):
    """Why the realtime service closed a socket (DESIGN.md §5); see `CLOSE_CODE_MEANINGS`."""

    NORMAL = 1000
    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    SERVICE_RESTART = 1012
    MISSING_TOKEN = 4001
    INVALID_TOKEN = 4002
    INVALID_PAYLOAD = 4003
    FORBIDDEN_ORIGIN = 4004
    SLOW_CONSUMER = 4008
    TOO_MANY_CONNECTIONS = 4029


CLOSE_CODE_MEANINGS: dict[CloseCode, str] = {
    CloseCode.NORMAL: "normal close",
    CloseCode.GOING_AWAY: "server going away: reconnect with backoff",
    CloseCode.MESSAGE_TOO_BIG: "an inbound frame was over MAX_INBOUND_FRAME_BYTES",
    CloseCode.SERVICE_RESTART: "server restarting or events missed: reconnect and catch up",
    CloseCode.MISSING_TOKEN: "missing authentication token",
    CloseCode.INVALID_TOKEN: "invalid or expired token (also when it expires while connected)",
    CloseCode.INVALID_PAYLOAD: "invalid token payload (no usable `sub`, or another user's)",
    CloseCode.FORBIDDEN_ORIGIN: "the page's origin is not allowed",
    CloseCode.SLOW_CONSUMER: "its outbound buffer overflowed: reconnect and catch up",
    CloseCode.TOO_MANY_CONNECTIONS: "too many connections for the user",
}


def close_code_schema() -> dict[str, Any]:
    """JSON Schema of the close codes: one `const` per code, titled with its name."""
    return {
        "title": "CloseCode",
        "description": "Why the realtime service closed a WebSocket (the close frame's code).",
        "type": "integer",
        "oneOf": [
            {"const": code.value, "title": code.name, "description": CLOSE_CODE_MEANINGS[code]}
            for code in CloseCode
        ],
    }


class ServerEvent(StrEnum):
    CONNECTION_ESTABLISHED = "connection:established"
    NOTIFICATION_NEW = "notification:new"
    NOTIFICATION_READ = "notification:read"
    NOTIFICATION_UNREAD = "notification:unread"
    NOTIFICATION_READ_ALL = "notification:read_all"
    NOTIFICATION_DELETED = "notification:deleted"
    STATS_UPDATED = "stats:updated"
    PONG = "pong"
    ERROR = "error"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    INCIDENT_UPDATED = "incident:updated"
    TYPING = "typing"
    PRESENCE_MEMBERS = "presence:members"
    PRESENCE_JOIN = "presence:join"
    PRESENCE_LEAVE = "presence:leave"


class ClientMessageType(StrEnum):
    PING = "ping"
    AUTH = "auth"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    TYPING = "typing"


class ServerMessage(BaseModel):
    """`{"event": ..., "data": ..., "timestamp": ..., "seq": ...}` sent to a browser."""

    model_config = ConfigDict(extra="ignore")

    event: ServerEvent
    data: dict[str, Any]
    timestamp: datetime
    seq: int | None = None


class ConnectionEstablished(BaseModel):
    """Data of `connection:established`.

    `recovered` is true when every event after the client's `since` was replayed; false when
    the gap was too large and the client should reload its list over REST. `seq` is the
    user's latest sequence number known when the connection was set up.
    """

    user_id: str
    timestamp: datetime
    message: str
    recovered: bool
    seq: int
