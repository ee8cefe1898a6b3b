"""Killing the email consumer process (SIGKILL) in the middle of a batch loses nothing, and
any email sent twice carries the same Message-ID."""

from __future__ import annotations

import json
import signal
from collections import Counter

import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from contracts.topology import Topology
from services.email.composition import message_id
from services.email.settings import Settings
from tests.email.smtp_server import ScriptedSmtp
from tests.support.email_consumer import created_event, email_queues, publish
from tests.support.infra import free_port
from tests.support.processes import ServiceProcess
from tests.support.waiting import eventually

BATCH = 120
DOMAIN = "tocsin.test"  # of EMAIL_FROM in the test settings


def consumer_process(settings: Settings, name: str) -> ServiceProcess:
    port = free_port()
    env = {
        "DATABASE_URL": settings.database_url,
        "AMQP_URL": settings.amqp_url,
        "TOCSIN_NAMESPACE": settings.tocsin_namespace,
        "PORT": str(port),
        "SMTP_HOST": settings.smtp_host,
        "SMTP_PORT": str(settings.smtp_port),
        "EMAIL_FROM": settings.email_from,
        "UNSUBSCRIBE_SECRET": settings.unsubscribe_secret,
        "RETRY_DELAYS_MS": json.dumps(settings.retry_delays_ms),
        "PREFETCH": "16",
    }
    return ServiceProcess.python_module(
        name, "services.email", env, health_url=f"http://127.0.0.1:{port}/readyz"
    )


async def test_kill_9_mid_batch_loses_nothing_and_duplicates_keep_their_message_id(
    email_settings: Settings,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    broker_cleanup: list[str],
    email_db: sa.ext.asyncio.AsyncEngine,
) -> None:
    broker_cleanup.extend(email_queues(topology))
    smtp.delay_s = 0.02
    first = consumer_process(email_settings, f"email-crash-{topology.namespace}-1").start()
    second = consumer_process(email_settings, f"email-crash-{topology.namespace}-2")
    try:
        events = [created_event(email=f"crash-{i}@example.test") for i in range(BATCH)]
        await publish(amqp_connection, topology, *events)
        await eventually(
            lambda: len(smtp.messages()), until=lambda n: n >= BATCH // 4, what="some emails"
        )
        first.kill()
        assert len(smtp.messages()) < BATCH, "the batch finished before the kill"
        second.start()

        expected = {message_id(e.event_id, DOMAIN) for e in events}
        await eventually(
            lambda: len(expected - {m.message_id for m in smtp.messages()}),
            until=lambda missing: missing == 0,
            timeout=60,
            what="every email of the batch (value: emails still missing)",
        )
        received = smtp.messages()
        assert {m.message_id for m in received} == expected
        for mail in received:
            assert mail.message_id == message_id(mail.header("X-Tocsin-Event-Id"), DOMAIN)
        duplicates = [mid for mid, n in Counter(m.message_id for m in received).items() if n > 1]
        assert len(duplicates) <= 16, "more resends than messages in flight at the kill"
        async with email_db.connect() as connection:
            sent = await connection.scalar(
                sa.text(
                    "SELECT count(*) FROM email.processed_events"
                    " WHERE event_id = ANY(:ids) AND status = 'sent'"
                ),
                {"ids": [e.event_id for e in events]},
            )
        assert sent == BATCH
        # uvicorn re-raises SIGTERM after a clean shutdown, hence -15 rather than 0
        assert second.stop() in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in second.log_text()
    finally:
        first.kill()
        second.stop()
