"""An incident told as the notification service publishes it, for the incident channel tests:
the incident API of a test, its queues, a publisher, and the story's events in order (the
fixtures are shared with the presence tests)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts.incidents import (
    Comment,
    Incident,
    IncidentCommentAdded,
    IncidentCreated,
    IncidentEvent,
    IncidentStatusChanged,
    Person,
    Severity,
)
from contracts.topology import Topology
from messaging.incidents import IncidentPublisher
from messaging.topology import consumer_queue_names, declare_consumer, declare_incidents_exchange
from services.notification.incidents import consumer_spec
from tests.support.infra import free_port
from tests.support.notification_process import notification_process
from tests.support.realtime_service import JWT_SECRET, NotificationApi


@pytest.fixture
async def incident_queues(
    amqp_connection: AbstractRobustConnection, topology: Topology, broker_cleanup: list[str]
) -> list[str]:
    """Declares the consumer's queues first, so the publisher's mandatory publish is routed."""
    spec = consumer_spec(topology)
    names = consumer_queue_names(topology, spec.name, spec.retry_delays_ms)
    broker_cleanup.extend(names)
    channel = await amqp_connection.channel()
    await declare_incidents_exchange(channel, topology)
    await declare_consumer(channel, topology, spec)
    await channel.close()
    return names


@pytest.fixture
def incident_api(
    database_url: str, amqp_url: str, topology: Topology, incident_queues: list[str]
) -> Iterator[NotificationApi]:
    """The notification service with incident ingestion on."""
    port = free_port()
    process = notification_process(
        database_url,
        amqp_url,
        topology,
        JWT_SECRET,
        port,
        DELIVERIES_ENABLED="false",
        INCIDENTS_ENABLED="true",
    )
    process.start()
    yield NotificationApi(process, f"http://127.0.0.1:{port}")
    process.stop()


@pytest.fixture
async def incidents(amqp_url: str, topology: Topology) -> AsyncIterator[IncidentPublisher]:
    async with IncidentPublisher(amqp_url, namespace=topology.namespace) as publisher:
        yield publisher


def person(user_id: str) -> Person:
    return Person(id=user_id, name=user_id)


class IncidentStory:
    """One incident with its people; each method is the next event about it."""

    def __init__(self, watchers: list[str], team: list[str], actor: str) -> None:
        self.id = f"inc-{uuid.uuid4().hex[:10]}"
        self.channel = f"incident:{self.id}"
        self.watchers = [person(w) for w in watchers]
        self.team = [person(t) for t in team]
        self.actor = person(actor)
        self.status = "open"

    def _incident(self) -> Incident:
        return Incident(
            id=self.id,
            key="INC-2026-042",
            title="Checkout latency above 2 s",
            severity=Severity.SEV2,
            status=self.status,
            url=f"/incidents/{self.id}",
        )

    def _common(self) -> dict[str, Any]:
        return {
            "event_id": str(uuid.uuid4()),
            "occurred_at": datetime.now(UTC),
            "incident": self._incident(),
            "actor": self.actor,
            "watchers": self.watchers,
            "team_members": self.team,
        }

    def created(self) -> IncidentEvent:
        return IncidentCreated(**self._common())

    def status_changed(self, new_status: str) -> IncidentEvent:
        previous, self.status = self.status, new_status
        return IncidentStatusChanged(
            **self._common(), previous_status=previous, new_status=new_status
        )

    def comment(self, excerpt: str) -> IncidentEvent:
        return IncidentCommentAdded(
            **self._common(), comment=Comment(id=uuid.uuid4().hex, excerpt=excerpt)
        )
