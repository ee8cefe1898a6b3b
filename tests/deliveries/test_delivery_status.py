"""Delivery outcomes reach `GET /api/v1/notifications/{id}`, and the unsubscribe link in an
email turns email off for that type."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from contracts.events import DeliveryOutcome, EventEnvelope, EventType
from contracts.notifications import Channel
from contracts.topology import Topology, routing_key
from database.engine import create_engine
from identity.unsubscribe import sign_unsubscribe
from messaging.consuming import REASON_HEADER
from messaging.publisher import envelope_message
from services.notification.deliveries import CONSUMER_NAME, record_outcome
from services.notification.queries import deliveries_of
from tests.email.smtp_server import ScriptedSmtp
from tests.support.delivery_status import deliveries, notify, subscribe, user_headers
from tests.support.email_consumer import UNSUBSCRIBE_SECRET
from tests.support.users import new_user
from tests.support.waiting import eventually


async def email_status_of_one_notification(
    api: httpx.AsyncClient, user: str
) -> tuple[str, dict[str, Any]]:
    """Subscribe `user` at <user>@example.test, notify them once, and wait until the
    notification's email delivery status is recorded: (notification id, its deliveries)."""
    await subscribe(api, user, f"{user}@example.test")
    notification_id = await notify(api, user)
    status = await eventually(
        lambda: deliveries(api, user, notification_id),
        until=lambda d: "email" in d,
        what="email delivery status",
    )
    return notification_id, status


async def test_sent_email_shows_as_succeeded_on_the_notification(
    api: httpx.AsyncClient, email_app: FastAPI, smtp: ScriptedSmtp
) -> None:
    user = new_user()
    notification_id, status = await email_status_of_one_notification(api, user)
    assert status["email"]["status"] == "succeeded"
    assert status["email"]["attempts"] == 1
    assert status["email"]["target"] == f"{user}@example.test"
    [mail] = smtp.to(f"{user}@example.test")
    assert mail.header("X-Tocsin-Notification-Id") == notification_id


async def test_refused_email_shows_as_failed_with_the_smtp_reply(
    api: httpx.AsyncClient, email_app: FastAPI, smtp: ScriptedSmtp
) -> None:
    smtp.reply_next("550 5.1.1 Mailbox unavailable")
    user = new_user()
    _, status = await email_status_of_one_notification(api, user)
    assert status["email"]["status"] == "failed"
    assert "550" in status["email"]["detail"]
    assert smtp.messages() == []


async def test_one_click_unsubscribe_turns_email_off_for_that_type(
    api: httpx.AsyncClient,
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    email_db: sa.ext.asyncio.AsyncEngine,
) -> None:
    user = new_user()
    address = f"{user}@example.test"
    await subscribe(api, user, address)
    await notify(api, user, "incident_created")
    [mail] = await eventually(lambda: smtp.to(address), what="the first email")
    link = re.findall(r"<(https?://[^>]+)>", mail.header("List-Unsubscribe"))[0]
    parts = urlsplit(link)

    page = await api.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200 and "Unsubscribe" in page.text
    one_click = await api.post(
        f"{parts.path}?{parts.query}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200, one_click.text
    assert one_click.json()["unsubscribed"] is True

    preferences = (await api.get("/api/v1/preferences", headers=user_headers(user))).json()
    assert {"type": "incident_created", "channel": "email", "enabled": False} in preferences[
        "preferences"
    ]
    second = await notify(api, user, "incident_created")

    async def email_record() -> str | None:
        async with email_db.connect() as connection:
            return await connection.scalar(
                sa.text("SELECT status FROM email.processed_events WHERE notification_id = :id"),
                {"id": second},
            )

    assert await eventually(email_record, what="the second notification handled") == "skipped"
    assert len(smtp.to(address)) == 1


async def test_bad_unsubscribe_token_is_a_400_json_error(api: httpx.AsyncClient) -> None:
    forged = sign_unsubscribe("not-the-secret", "victim", "incident_created")
    for token in ("", "garbage", forged, forged + "x"):
        for method in ("GET", "POST"):
            response = await api.request(method, "/api/v1/unsubscribe", params={"token": token})
            assert response.status_code == 400, (method, token, response.text)
            assert response.json()["error"]["code"] == "invalid_unsubscribe_token"
    missing = await api.post("/api/v1/unsubscribe")
    assert missing.status_code == 400


async def test_unsubscribe_page_on_get_changes_nothing(api: httpx.AsyncClient) -> None:
    user = new_user()
    token = sign_unsubscribe(UNSUBSCRIBE_SECRET, user, "incident_created")
    page = await api.get("/api/v1/unsubscribe", params={"token": token})
    assert page.status_code == 200
    preferences = (await api.get("/api/v1/preferences", headers=user_headers(user))).json()
    assert preferences["preferences"] == []


def outcome(
    event_type: EventType, notification_id: str, user: str, at: datetime, event_id: str
) -> EventEnvelope:
    data = DeliveryOutcome(
        notification_id=notification_id,
        source_event_id=str(uuid.uuid4()),
        channel=Channel.WEBHOOK,
        attempts=2 if event_type is EventType.DELIVERY_SUCCEEDED else 1,
        target="endpoint-1",
    )
    return EventEnvelope(
        event_id=event_id,
        type=event_type,
        occurred_at=at,
        user_id=user,
        data=data.model_dump(mode="json"),
    )


async def test_outcomes_are_idempotent_and_an_older_one_never_overwrites(
    database_url: str,
) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        user, notification_id = new_user(), str(uuid.uuid4())
        now = datetime.now(UTC)
        newer = outcome(EventType.DELIVERY_SUCCEEDED, notification_id, user, now, "evt-new-" + user)
        older = outcome(
            EventType.DELIVERY_FAILED,
            notification_id,
            user,
            now - timedelta(seconds=5),
            "evt-old-" + user,
        )
        assert await record_outcome(engine, newer) is True
        assert await record_outcome(engine, newer) is False
        assert await record_outcome(engine, older) is True
        async with engine.connect() as connection:
            status = await deliveries_of(connection, user, notification_id)
            other = await deliveries_of(connection, "someone-else", notification_id)
        assert status["webhook"].status == "succeeded"
        assert status["webhook"].attempts == 2
        assert other == {}
    finally:
        await engine.dispose()


async def test_email_preference_off_sends_no_email_unless_critical(
    api: httpx.AsyncClient,
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    email_db: sa.ext.asyncio.AsyncEngine,
) -> None:
    user = new_user()
    address = f"{user}@example.test"
    await subscribe(api, user, address)
    response = await api.put(
        "/api/v1/preferences",
        json={"preferences": [{"type": "*", "channel": "email", "enabled": False}]},
        headers=user_headers(user),
    )
    assert response.status_code == 200, response.text
    quiet = await notify(api, user, priority="high")
    critical = await notify(api, user, priority="critical")

    async def status_of(notification_id: str) -> str | None:
        async with email_db.connect() as connection:
            return await connection.scalar(
                sa.text("SELECT status FROM email.processed_events WHERE notification_id = :id"),
                {"id": notification_id},
            )

    assert await eventually(lambda: status_of(quiet), what="the quiet one handled") == "skipped"
    assert await eventually(lambda: status_of(critical), what="the critical one") == "sent"
    [mail] = smtp.to(address)
    assert mail.header("X-Tocsin-Notification-Id") == critical
    assert "email" not in await deliveries(api, user, quiet)


async def test_poison_outcome_is_dead_lettered_and_outcomes_keep_flowing(
    api: httpx.AsyncClient,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    topology: Topology,
    database_url: str,
) -> None:
    channel = await amqp_connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(topology.events_exchange)
    await exchange.publish(
        aio_pika.Message(b"[1, 2", message_id="poison-outcome"), "delivery.failed.0123456789abcdef"
    )
    user, notification_id = new_user(), str(uuid.uuid4())
    good = outcome(
        EventType.DELIVERY_SUCCEEDED, notification_id, user, datetime.now(UTC), str(uuid.uuid4())
    )
    await exchange.publish(envelope_message(good), routing_key(good.type, user))

    dead_letters = await channel.get_queue(topology.dead_letter_queue(CONSUMER_NAME), ensure=False)
    dead = await eventually(
        lambda: dead_letters.get(no_ack=True, fail=False), what="the poison in the DLQ"
    )
    assert dead.message_id == "poison-outcome"
    assert (dead.headers or {})[REASON_HEADER] == "invalid_message"
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:

        async def recorded() -> dict[str, Any]:
            async with engine.connect() as connection:
                return await deliveries_of(connection, user, notification_id)

        status = await eventually(recorded, what="the good outcome recorded")
        assert status["webhook"].status == "succeeded"
    finally:
        await engine.dispose()
