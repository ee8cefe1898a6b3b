"""Names on the broker: exchanges, queues and routing keys.

Every name is derived from a namespace (default `tocsin`), so several Tocsin systems (or test
runs) can share one RabbitMQ vhost without seeing each other's messages.

Routing key of an event: `<event type>.<user key>`, e.g. `notification.created.3f2a…`.
The user key is a fixed-length hash of the user id (user ids are free-form strings; routing
keys are dot-separated words), so consumers bind by type (`notification.created.*`) and a
realtime instance binds only the users it holds (`notification.*.<user key>`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from contracts.channels import channel_key
from contracts.events import CHANNEL_EVENT_TYPES, EventType

DEFAULT_NAMESPACE = "tocsin"
BROADCAST_USER_KEY = "all"


def user_key(user_id: str) -> str:
    """The routing-key word for a user: 16 hex digits of SHA-256 of the user id."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


def routing_key(event_type: str, user_id: str) -> str:
    """Routing key for an event of `event_type` about `user_id` (`*` means every user); for a
    channel event (`CHANNEL_EVENT_TYPES`) `user_id` is the channel name."""
    if event_type in CHANNEL_EVENT_TYPES:
        return f"{event_type}.{channel_key(user_id)}"
    key = BROADCAST_USER_KEY if user_id == "*" else user_key(user_id)
    return f"{event_type}.{key}"


def binding_for_type(event_type: str) -> str:
    """Binding key that receives every event of one type, whoever it is for."""
    return f"{event_type}.*"


def binding_for_user(user_id: str) -> str:
    """Binding key that receives every event about one user."""
    return f"*.*.{user_key(user_id)}"


BROADCAST_BINDING = f"{EventType.NOTIFICATION_BROADCAST}.{BROADCAST_USER_KEY}"


@dataclass(frozen=True)
class Topology:
    """The broker names of one Tocsin system."""

    namespace: str = DEFAULT_NAMESPACE
    quorum_group_size: int | None = None
    """Replicas of each quorum queue; None leaves it to RabbitMQ. A deployment setting that
    travels with the names because every declarer of a queue must agree on it."""

    @property
    def quorum_arguments(self) -> dict[str, int]:
        """What a quorum queue's declaration adds for the group size (nothing when unset)."""
        if self.quorum_group_size is None:
            return {}
        return {"x-quorum-initial-group-size": self.quorum_group_size}

    @property
    def events_exchange(self) -> str:
        """Topic exchange where the notification service (and consumers) publish events."""
        return f"{self.namespace}.events"

    @property
    def incidents_exchange(self) -> str:
        """Topic exchange where other services publish `incident.*` events."""
        return f"{self.namespace}.incidents"

    def queue(self, consumer: str) -> str:
        """The durable quorum queue of one consumer kind (`email`, `webhook`, ...)."""
        return f"{self.namespace}.{consumer}"

    def retry_queue(self, consumer: str, delay_ms: int) -> str:
        """A delay queue that dead-letters back to the consumer's own queue after `delay_ms`.

        A quorum queue like the consumer's own, so a retry waiting in it survives the loss of
        a broker node and the consumer can declare it while a node is down. (Earlier versions
        had classic `<ns>.<consumer>.retry.<ms>` queues, homed on one node: see
        docs/scaling.md, "Upgrading the retry queues".)"""
        return f"{self.namespace}.{consumer}.delay.{delay_ms}"

    def dead_letter_queue(self, consumer: str) -> str:
        return f"{self.namespace}.{consumer}.dlq"

    def realtime_queue(self, instance_id: str) -> str:
        """The exclusive, auto-deleted queue of one realtime instance."""
        return f"{self.namespace}.realtime.{instance_id}"
