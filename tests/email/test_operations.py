"""What an operator sees and relies on: health, metrics, an SMTP outage, the demo sink."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from contracts.topology import Topology
from tests.email.smtp_server import ScriptedSmtp
from tests.support.email_consumer import attempts_log, created_event, processed, publish
from tests.support.infra import free_port
from tests.support.processes import ServiceProcess
from tests.support.waiting import eventually


async def test_health_readiness_and_metrics(
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
) -> None:
    await publish(amqp_connection, topology, created_event(email="metrics@example.test"))
    await eventually(lambda: smtp.to("metrics@example.test"), what="the email")
    transport = httpx.ASGITransport(app=email_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://email.test") as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).json() == {"status": "ready"}
        metrics = (await client.get("/metrics")).text
    assert 'tocsin_email_deliveries_total{outcome="sent"} 1.0' in metrics
    assert "tocsin_email_send_seconds_bucket" in metrics
    assert "tocsin_email_delivery_lag_seconds_count 1.0" in metrics


async def test_smtp_server_down_is_retried_until_it_is_back(
    email_app: FastAPI,
    smtp: ScriptedSmtp,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    email_db: sa.ext.asyncio.AsyncEngine,
) -> None:
    smtp.go_down()
    event = created_event(email="outage@example.test")
    await publish(amqp_connection, topology, event)
    await eventually(lambda: attempts_log(email_db, event.event_id), what="a failed attempt logged")
    smtp.come_back()

    row = await eventually(
        lambda: processed(email_db, event.event_id),
        until=lambda r: r is not None and r["status"] == "sent",
        what="delivery once the server is back",
    )
    assert len(smtp.to("outage@example.test")) == 1
    assert row["attempts"] >= 2


async def test_demo_sink_writes_each_email_to_the_mail_folder(tmp_path: Path) -> None:
    port = free_port()
    sink = ServiceProcess.python_module(
        f"smtp-sink-{port}",
        "services.email.sink",
        {"SINK_PORT": str(port), "MAIL_DIR": str(tmp_path)},
    ).start()
    try:
        message = EmailMessage()
        message["From"] = "tocsin@example.test"
        message["To"] = "reader@example.test"
        message["Subject"] = "Hello from the sink test"
        message["Message-ID"] = "<sink-test@example.test>"
        message.set_content("body")

        async def send() -> bool:
            try:
                await aiosmtplib.send(message, hostname="127.0.0.1", port=port, timeout=5)
            except (aiosmtplib.SMTPException, OSError):
                return False
            return True

        await eventually(send, what="the sink accepting a message")
        [saved] = await eventually(lambda: list(tmp_path.glob("*.eml")), what="the .eml file")
        assert "sink-test@example.test" in saved.name
        assert "Subject: Hello from the sink test" in saved.read_text()
    finally:
        sink.stop()
