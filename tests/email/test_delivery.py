"""The email consumer against a real SMTP server, real RabbitMQ and real Postgres."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import aio_pika
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from contracts.events import DeliveryOutcome, EventType, event_from_json
from contracts.headers import FORCE_HEADER, REPLAY_HEADER
from contracts.notifications import Channel
from contracts.topology import Topology
from identity.unsubscribe import verify_unsubscribe
from messaging.consuming import REASON_HEADER
from messaging.publisher import envelope_message
from services.email.composition import message_id
from tests.email.smtp_server import ScriptedSmtp
from tests.support.email_consumer import (
    UNSUBSCRIBE_SECRET,
    attempts_log,
    created_event,
    next_message,
    processed,
    publish,
)
from tests.support.waiting import eventually

HOSTILE_TITLE = '<script>alert("x")</script> & <b>bold</b>'


async def test_email_on_sends_one_correct_email(
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    outcomes: aio_pika.abc.AbstractQueue,
) -> None:
    event = created_event(title=HOSTILE_TITLE)
    await publish(amqp_connection, topology, event)

    [mail] = await eventually(lambda: smtp.to("ada@example.test"), what="the email")
    assert mail.message_id == message_id(event.event_id, "tocsin.test")
    assert mail.header("From") == "Tocsin <notifications@tocsin.test>"
    assert mail.header("To") == "Ada Lovelace <ada@example.test>"
    assert HOSTILE_TITLE in mail.header("Subject")
    assert mail.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    links = re.findall(r"<([^>]+)>", mail.header("List-Unsubscribe"))
    assert links[0].startswith("http://api.tocsin.test/api/v1/unsubscribe?token=")
    assert links[1].startswith("mailto:unsubscribe@tocsin.test")
    token = parse_qs(urlsplit(links[0]).query)["token"][0]
    request = verify_unsubscribe(UNSUBSCRIBE_SECRET, token)
    assert (request.user_id, request.notification_type) == (event.user_id, "incident_created")

    text, html = mail.part("plain"), mail.part("html")
    assert HOSTILE_TITLE in text
    assert "<script>" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "https://app.tocsin.test/incidents/INC-42" in html
    assert "https://app.tocsin.test/incidents/INC-42" in text

    outcome_message = await eventually(
        lambda: outcomes.get(no_ack=True, fail=False), what="delivery.succeeded"
    )
    outcome_event = event_from_json(outcome_message.body)
    assert outcome_event.type is EventType.DELIVERY_SUCCEEDED
    outcome = outcome_event.data_as(DeliveryOutcome)
    assert outcome.source_event_id == event.event_id
    assert outcome.channel is Channel.EMAIL
    assert outcome.target == "ada@example.test"


async def test_recipient_locale_selects_the_translated_template(
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
) -> None:
    event = created_event(email="marie@example.test", locale="fr-FR")
    await publish(amqp_connection, topology, event)

    [mail] = await eventually(lambda: smtp.to("marie@example.test"), what="the email")
    assert "Se désabonner" in mail.part("plain")
    assert 'lang="fr"' in mail.part("html")


async def test_email_channel_off_sends_nothing_and_records_skip(
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    email_db: sa.ext.asyncio.AsyncEngine,
) -> None:
    off = created_event(email="off@example.test", channels=(Channel.IN_APP,))
    no_address = created_event(email=None)
    await publish(amqp_connection, topology, off, no_address)

    for event in (off, no_address):
        row = await eventually(lambda e=event: processed(email_db, e.event_id), what="skip")
        assert row["status"] == "skipped"
    assert smtp.to("off@example.test") == []
    assert smtp.messages() == []


async def test_smtp_451_then_success_sends_exactly_one_email(
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    email_db: sa.ext.asyncio.AsyncEngine,
) -> None:
    smtp.reply_next("451 4.3.0 Mailbox busy, try again later")
    event = created_event(email="retry@example.test")
    await publish(amqp_connection, topology, event)

    row = await eventually(
        lambda: processed(email_db, event.event_id),
        until=lambda r: r is not None and r["status"] == "sent",
        what="delivery after a retry",
    )
    assert row["attempts"] == 2
    assert await attempts_log(email_db, event.event_id) == ["retry", "sent"]
    assert len(smtp.to("retry@example.test")) == 1


async def test_smtp_550_dead_letters_with_reason_and_publishes_failure(
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    email_db: sa.ext.asyncio.AsyncEngine,
    outcomes: aio_pika.abc.AbstractQueue,
) -> None:
    smtp.reply_next("550 5.1.1 No such user here")
    event = created_event(email="nobody@example.test")
    await publish(amqp_connection, topology, event)

    dead = await next_message(amqp_connection, topology.dead_letter_queue("email"), "the DLQ")
    assert dead.message_id == event.event_id
    assert (dead.headers or {})[REASON_HEADER] == "smtp_rejected"
    assert "550" in str((dead.headers or {})["x-tocsin-detail"])
    row = await processed(email_db, event.event_id)
    assert row is not None and row["status"] == "failed"
    outcome_message = await eventually(
        lambda: outcomes.get(no_ack=True, fail=False), what="delivery.failed"
    )
    failed = event_from_json(outcome_message.body)
    assert failed.type is EventType.DELIVERY_FAILED
    assert "550" in (failed.data_as(DeliveryOutcome).detail or "")
    assert smtp.messages() == []


async def test_same_event_delivered_twice_sends_one_email(
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
) -> None:
    event = created_event(email="twice@example.test")
    await publish(amqp_connection, topology, event, event)
    metrics = email_app.state.metrics.registry

    await eventually(
        lambda: metrics.get_sample_value("tocsin_email_deliveries_total", {"outcome": "duplicate"}),
        until=lambda v: v == 1,
        what="the second copy recognised as a duplicate",
    )
    assert len(smtp.to("twice@example.test")) == 1


async def test_poison_message_is_dead_lettered_and_the_queue_keeps_flowing(
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
) -> None:
    channel = await amqp_connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(topology.events_exchange)
    await exchange.publish(
        aio_pika.Message(b"{not json", message_id="poison-1", content_type="application/json"),
        "notification.created.0123456789abcdef",
    )
    after = created_event(email="after-poison@example.test")
    await publish(amqp_connection, topology, after)

    dead = await next_message(amqp_connection, topology.dead_letter_queue("email"), "the DLQ")
    assert dead.message_id == "poison-1"
    assert (dead.headers or {})[REASON_HEADER] == "invalid_message"
    await eventually(lambda: smtp.to("after-poison@example.test"), what="the next email")


async def test_transient_failures_past_the_last_retry_are_dead_lettered_as_failed(
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    email_db: sa.ext.asyncio.AsyncEngine,
    outcomes: aio_pika.abc.AbstractQueue,
) -> None:
    smtp.reply_next(*["421 4.7.0 Try again later"] * 4)  # first attempt + three retries
    event = created_event(email="busy@example.test")
    await publish(amqp_connection, topology, event)

    dead = await next_message(amqp_connection, topology.dead_letter_queue("email"), "the DLQ")
    assert (dead.headers or {})[REASON_HEADER] == "retries_exhausted"
    row = await processed(email_db, event.event_id)
    assert row is not None and row["status"] == "failed" and row["attempts"] == 4
    assert await attempts_log(email_db, event.event_id) == ["retry"] * 4 + ["failed"]
    outcome_message = await eventually(
        lambda: outcomes.get(no_ack=True, fail=False), what="delivery.failed"
    )
    assert event_from_json(outcome_message.body).type is EventType.DELIVERY_FAILED
    assert smtp.messages() == []


async def test_redelivered_event_whose_outcome_was_not_published_publishes_it_without_resending(
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    email_db: sa.ext.asyncio.AsyncEngine,
    outcomes: aio_pika.abc.AbstractQueue,
) -> None:
    event = created_event(email="pending@example.test")
    async with email_db.begin() as connection:  # sent, but the broker never confirmed the outcome
        await connection.execute(
            sa.text(
                "INSERT INTO email.processed_events (event_id, notification_id, user_id,"
                " notification_type, status, recipient, attempts, processed_at)"
                " VALUES (:id, :nid, :uid, 'incident_created', 'sent', 'pending@example.test',"
                " 1, now())"
            ),
            {"id": event.event_id, "nid": event.data["notification"]["id"], "uid": event.user_id},
        )
    await publish(amqp_connection, topology, event)

    outcome_message = await eventually(
        lambda: outcomes.get(no_ack=True, fail=False), what="the pending delivery.succeeded"
    )
    outcome_event = event_from_json(outcome_message.body)
    assert outcome_event.type is EventType.DELIVERY_SUCCEEDED
    assert outcome_event.data_as(DeliveryOutcome).source_event_id == event.event_id
    row = await eventually(
        lambda: processed(email_db, event.event_id),
        until=lambda r: r is not None and r["outcome_published_at"] is not None,
        what="the outcome marked published",
    )
    assert row["status"] == "sent"
    assert smtp.messages() == []


async def test_forced_replay_sends_an_already_sent_event_again(
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
) -> None:
    event = created_event(email="forced@example.test")
    await publish(amqp_connection, topology, event)
    await eventually(lambda: smtp.to("forced@example.test"), what="the first email")

    channel = await amqp_connection.channel(publisher_confirms=True)
    await channel.default_exchange.publish(
        envelope_message(event, {REPLAY_HEADER: True, FORCE_HEADER: True}),
        topology.queue("email"),
    )
    first, again = await eventually(
        lambda: smtp.to("forced@example.test"), until=lambda m: len(m) == 2, what="the resend"
    )
    assert first.message_id == again.message_id
