"""The broker settings every part reads alike: where the broker is (`AMQP_URL`, one address or a
comma-separated list, see `messaging.brokers`), the names on it (`TOCSIN_NAMESPACE`) and how
many replicas each quorum queue gets (`TOCSIN_QUORUM_GROUP_SIZE`).

Every part that declares a quorum queue must be given the same group size: RabbitMQ compares a
queue's arguments with those of every later declaration and refuses (PRECONDITION_FAILED) one
that differs, so a service started with another value stops at start-up with that error rather
than running against queues it did not expect."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from contracts.topology import DEFAULT_NAMESPACE, Topology

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


class BrokerSettings(BaseSettings):
    amqp_url: str = Field(
        default=DEFAULT_AMQP_URL,
        description="One broker address, or several separated by commas (a cluster's nodes): "
        "a connection tries them in turn and fails over to the next.",
    )
    tocsin_namespace: str = Field(
        default=DEFAULT_NAMESPACE, description="Prefix of every exchange and queue name."
    )
    tocsin_quorum_group_size: int | None = Field(
        default=None,
        ge=1,
        description="Replicas of each quorum queue (`x-quorum-initial-group-size`). Unset: "
        "RabbitMQ's default (one per node, up to its limit). The same value for every part.",
    )

    @property
    def topology(self) -> Topology:
        return Topology(self.tocsin_namespace, quorum_group_size=self.tocsin_quorum_group_size)
