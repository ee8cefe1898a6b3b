"""Tocsin's contracts: the messages, names and codes that every part shares.

This package does no I/O and imports no broker or database library.
"""

from contracts.events import (
    EVENT_DATA_MODELS,
    NOTIFICATION_EVENT_TYPES,
    SCHEMA_VERSION,
    Announcement,
    DeliveryOutcome,
    EventEnvelope,
    EventType,
    NotificationCreated,
    NotificationDeleted,
    NotificationRead,
    NotificationsReadAll,
    event_from_json,
)
from contracts.notifications import (
    Channel,
    NotificationData,
    NotificationStats,
    Priority,
    Recipient,
)
from contracts.topology import Topology, binding_for_type, binding_for_user, routing_key
from contracts.websocket import CloseCode, ServerEvent, ServerMessage

__all__ = [
    "EVENT_DATA_MODELS",
    "NOTIFICATION_EVENT_TYPES",
    "SCHEMA_VERSION",
    "Announcement",
    "Channel",
    "CloseCode",
    "DeliveryOutcome",
    "EventEnvelope",
    "EventType",
    "NotificationCreated",
    "NotificationData",
    "NotificationDeleted",
    "NotificationRead",
    "NotificationStats",
    "NotificationsReadAll",
    "Priority",
    "Recipient",
    "ServerEvent",
    "ServerMessage",
    "Topology",
    "binding_for_type",
    "binding_for_user",
    "event_from_json",
    "routing_key",
]
