"""Tokens never reach a service's log: a real notification service, sent a WebSocket handshake
and requests carrying tokens in the query string and the Authorization header, logs none of
them (uvicorn logs the handshake's path; the one redaction filter rewrites it)."""

from __future__ import annotations

import io
import logging

import httpx
import pytest
import websockets

from observability.logs import configure_logging
from tests.support.infra import free_port
from tests.support.processes import ServiceProcess
from tests.support.waiting import eventually

SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VydmljZS1sb2ctc2VjcmV0.c2lnbmF0dXJl"


async def test_a_service_log_never_shows_query_tokens(database_url: str, amqp_url: str) -> None:
    port = free_port()
    service = ServiceProcess.python_module(
        f"redaction-notification-{port}",
        "services.notification",
        {
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "JWT_SECRET": "redaction-test-secret",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "LOG_LEVEL": "DEBUG",
            "INCIDENTS_ENABLED": "false",
            "DELIVERIES_ENABLED": "false",
        },
        health_url=f"http://127.0.0.1:{port}/healthz",
    )
    service.start(60)
    try:
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/api/v1/ws/notifications?token={SECRET}&since=1"
            ):
                pass
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await client.get(f"/api/v1/notifications?token={SECRET}")
        await eventually(
            lambda: "WebSocket /api/v1/ws/notifications?token=REDACTED" in service.log_text(),
            what="the handshake logged with its token redacted",
        )
    finally:
        service.stop()
    assert SECRET not in service.log_text()


def test_the_filter_rewrites_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    configure_logging("redaction-test", "DEBUG", stream=stream, log_format="text")
    logger = logging.getLogger("tests.redaction")
    try:
        logger.info('%s - "WebSocket %s" 403', "127.0.0.1:1", f"/ws?token={SECRET}&since=2")
        logger.warning("calling with Authorization: Bearer %s", SECRET)
        try:
            raise ValueError(f"bad url /x?token={SECRET}")
        except ValueError:
            logger.exception("failed")
    finally:
        logging.getLogger().handlers[:] = []
    text = stream.getvalue()
    assert SECRET not in text
    assert "/ws?token=REDACTED&since=2" in text
    assert "Authorization: REDACTED" in text
    assert "bad url /x?token=REDACTED" in text
