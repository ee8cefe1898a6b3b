"""Logs, traces and metrics helpers, observed the way an operator or a consumer sees them."""

from __future__ import annotations

import io
import json
import logging

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter

from observability import (
    TraceContext,
    TraceparentMiddleware,
    configure_logging,
    current_trace,
    publish_headers,
    trace_from_headers,
    use_trace,
)
from observability.metrics import badly_named_metrics, metrics_endpoint, parse_metrics
from observability.tracing import parse_traceparent

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_log_lines_are_json_with_service_ids_and_current_trace() -> None:
    stream = io.StringIO()
    configure_logging("email", "INFO", stream=stream)
    try:
        with use_trace(parse_traceparent(VALID)):
            logging.getLogger("services.email.delivery").info(
                "email sent", extra={"event_id": "e-1", "user_id": "u-1"}
            )
    finally:
        logging.getLogger().handlers[:] = []
    line = json.loads(stream.getvalue().strip())
    assert line["service"] == "email"
    assert line["logger"] == "services.email.delivery"
    assert line["message"] == "email sent"
    assert line["level"] == "info"
    assert line["event_id"] == "e-1" and line["user_id"] == "u-1"
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["correlation_id"] == line["trace_id"]
    assert "ts" in line


def test_malformed_traceparent_values_are_ignored() -> None:
    for bad in (None, "", "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01", "ff" + VALID[2:]):
        assert parse_traceparent(bad) is None
    assert parse_traceparent(VALID.upper()) == parse_traceparent(VALID)


def test_publish_headers_carry_the_stored_or_current_trace() -> None:
    assert publish_headers(None) == {}
    assert publish_headers(VALID) == {"traceparent": VALID}
    with use_trace(TraceContext.new()) as trace:
        headers = publish_headers(None)
    carried = trace_from_headers(headers)
    assert carried is not None
    assert carried.trace_id == trace.trace_id and carried.span_id != trace.span_id


async def test_http_middleware_continues_the_callers_trace_and_echoes_it() -> None:
    app = FastAPI()
    seen: list[str] = []

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        trace = current_trace()
        assert trace is not None
        seen.append(trace.trace_id)
        return {"ok": "yes"}

    app.add_middleware(TraceparentMiddleware)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/ping", headers={"traceparent": VALID})
        fresh = await client.get("/ping", headers={"traceparent": "nonsense"})
    assert seen[0] == "4bf92f3577b34da6a3ce929d0e0e4736"
    echoed = parse_traceparent(response.headers["traceparent"])
    assert echoed is not None and echoed.trace_id == seen[0]
    assert seen[1] != seen[0] and parse_traceparent(fresh.headers["traceparent"]) is not None


async def test_metrics_endpoint_exposes_counters_in_prometheus_text() -> None:
    app = FastAPI()
    app.add_route("/metrics", metrics_endpoint)
    counter = Counter("tocsin_test_things_total", "things done in a test")
    counter.inc(3)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert parse_metrics(response.text)["tocsin_test_things_total"] >= 3


def test_metric_name_check_flags_names_outside_the_convention() -> None:
    registry = CollectorRegistry()
    Counter("tocsin_email_deliveries_total", "ok", registry=registry)
    Counter("emails_sent_total", "bad", registry=registry)
    assert badly_named_metrics(registry) == ["emails_sent"]


def test_text_format_is_one_readable_line_with_the_same_ids() -> None:
    stream = io.StringIO()
    configure_logging("webhook", "INFO", stream=stream, log_format="text")
    try:
        logging.getLogger("services.webhook.delivery").warning(
            "endpoint refused", extra={"event_id": "e-2", "user_id": "u-2"}
        )
    finally:
        logging.getLogger().handlers[:] = []
    line = stream.getvalue().strip()
    assert " warning webhook services.webhook.delivery: endpoint refused" in line
    assert "event_id=e-2" in line and "user_id=u-2" in line


def test_tokens_and_secrets_are_redacted_in_message_traceback_and_extras() -> None:
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl"
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    stream = io.StringIO()
    configure_logging("webhook", "INFO", stream=stream)
    try:
        # A logger of this test's own: the filter is on the handler, so every logger's records
        # pass it, and an earlier in-process server may have raised uvicorn's loggers' levels.
        log = logging.getLogger("tests.observability.redaction")
        log.info('%s - "WebSocket %s" 403', "127.0.0.1:1", f"/ws?since=3&token={jwt_like}")
        log.info("headers %s", {"authorization": f"Bearer {jwt_like}"})
        try:
            raise ValueError(f"[parameters: ('{secret}', 'Authorization: Basic dXNlcjpwdw==')]")
        except ValueError:
            log.exception("insert failed", extra={"sent": f"token={jwt_like}"})
    finally:
        logging.getLogger().handlers[:] = []
    text = stream.getvalue()
    for leaked in (jwt_like, jwt_like.rsplit(".", 1)[-1], secret, "dXNlcjpwdw=="):
        assert leaked not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert "since=3&token=REDACTED" in lines[0]["message"]
    assert "whsec_REDACTED" in lines[2]["exception"]
    assert lines[2]["sent"] == "token=REDACTED"
