"""Channel presence changes between realtime instances: a `PresenceChange` on routing key
`realtime.presence.<channel key>`, received by every instance with a subscriber of the channel
(they hold its binding), its own too. A lost change is corrected by the `presence:members` a
client gets when it subscribes again; REST always answers from the store."""

from __future__ import annotations

from contracts.channels import channel_key
from contracts.presence import PRESENCE_SIGNAL, PresenceChange, presence_routing_key
from contracts.topology import Topology
from services.realtime.signal_relay import Signal, SignalRelay

QUEUE_MAX = 10_000


class PresenceRelay(SignalRelay):
    def __init__(self, amqp_url: str, topology: Topology) -> None:
        super().__init__(amqp_url, topology, QUEUE_MAX)

    def publish(self, change: PresenceChange) -> None:
        key = presence_routing_key(channel_key(change.channel))
        self.send(Signal(key, PRESENCE_SIGNAL, change.model_dump_json().encode()))
