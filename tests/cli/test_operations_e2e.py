"""Operators' stories against the real services: an email outage re-driven with `tocsin
replay`, `tocsin send`, and `status` noticing a stopped relay. Services run as real processes
in this test's own broker namespace; emails go to a real SMTP server in the test process."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import aio_pika
import httpx
import pytest

from contracts.headers import REPLAY_HEADER
from contracts.topology import Topology
from identity import JwtSettings, mint_token
from identity.tokens import WRITE_SCOPE
from observability.metrics import parse_metrics
from tests.email.smtp_server import ScriptedSmtp, SmtpServer
from tests.support.cli import Cli
from tests.support.infra import free_port
from tests.support.processes import ServiceProcess
from tests.support.queues import depth, queue_messages
from tests.support.users import new_user
from tests.support.waiting import eventually


@pytest.fixture
def smtp() -> Iterator[ScriptedSmtp]:
    handler = ScriptedSmtp()
    with SmtpServer(handler):
        yield handler


class System:
    """The notification API and the email consumer of one test, started and stopped by PID."""

    def __init__(self, cli_env: dict[str, str], smtp: ScriptedSmtp) -> None:
        self.env = {**cli_env, "LOG_LEVEL": "INFO", "UNSUBSCRIBE_SECRET": "e2e-unsubscribe-secret"}
        self.api_port = free_port()
        self.email_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.email_url = f"http://127.0.0.1:{self.email_port}"
        self.smtp = smtp
        self.processes: list[ServiceProcess] = []
        self.email: ServiceProcess | None = None

    def start_api(self, relay: bool = True) -> ServiceProcess:
        process = ServiceProcess.python_module(
            f"cli-notification-{self.api_port}",
            "services.notification",
            {
                **self.env,
                "PORT": str(self.api_port),
                "HOST": "127.0.0.1",
                "RELAY_ENABLED": "true" if relay else "false",
                "INCIDENTS_ENABLED": "false",
            },
            health_url=f"{self.api_url}/readyz",
        ).start()
        self.processes.append(process)
        return process

    def start_email(self) -> ServiceProcess:
        self.email = ServiceProcess.python_module(
            f"cli-email-{self.email_port}",
            "services.email",
            {
                **self.env,
                "PORT": str(self.email_port),
                "HOST": "127.0.0.1",
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(self.smtp.port),
                "RETRY_DELAYS_MS": "[100,200]",
            },
            health_url=f"{self.email_url}/readyz",
        ).start()
        self.processes.append(self.email)
        return self.email

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()

    async def post(self, path: str, body: object, method: str = "POST") -> httpx.Response:
        token = mint_token(
            JwtSettings(secret=self.env["JWT_SECRET"]), "e2e-service", scopes=[WRITE_SCOPE]
        )
        async with httpx.AsyncClient(base_url=self.api_url, timeout=10) as client:
            response = await client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        assert response.status_code < 300, response.text
        return response

    async def email_metric(self, outcome: str) -> float:
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(f"{self.email_url}/metrics")).text
        return parse_metrics(text).get(f'tocsin_email_deliveries_total{{outcome="{outcome}"}}', 0.0)


@pytest.fixture
async def system(
    cli_env: dict[str, str], smtp: ScriptedSmtp, declared: Topology
) -> AsyncIterator[System]:
    running = System(cli_env, smtp)
    try:
        yield running
    finally:
        running.stop_all()


async def _notify(system: System, user: str, title: str) -> str:
    response = await system.post(
        "/api/v1/notifications",
        {"recipients": [user], "type": "ops.test", "title": title, "priority": "high"},
    )
    return str(response.json()["notifications"][0]["id"])


async def test_replay_after_an_email_outage_sends_exactly_the_missing_emails_once(
    cli: Cli,
    system: System,
    declared: Topology,
    smtp: ScriptedSmtp,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
) -> None:
    user = new_user("ops")
    address = f"{user}@example.test"
    started = datetime.now(UTC) - timedelta(seconds=1)
    system.start_api()
    email = system.start_email()
    await system.post(f"/api/v1/subscribers/{user}", {"email": address, "name": "Op"}, "PUT")

    await _notify(system, user, "before the outage")
    await eventually(lambda: len(smtp.to(address)), lambda n: n == 1, what="first email")

    email.stop()  # the email consumer is down for a while...
    await _notify(system, user, "during the outage 1")
    await _notify(system, user, "during the outage 2")
    await eventually(
        lambda: depth(amqp_connection, declared.queue("email")),
        lambda n: n == 2,
        what="two events waiting for the email consumer",
    )
    channel = await amqp_connection.channel()
    queue = await channel.declare_queue(declared.queue("email"), passive=True)
    await queue.purge()  # ...and what it had queued was lost
    webhook_before = await depth(amqp_connection, declared.queue("webhook"))

    system.start_email()
    result = await cli("replay", "--consumer", "email", "--since", started.isoformat())

    assert result.exit_code == 0, result.stderr
    assert "published: 3" in result.stdout
    await eventually(lambda: len(smtp.to(address)), lambda n: n == 3, what="the missing emails")
    await eventually(lambda: system.email_metric("duplicate"), lambda n: n >= 1, what="dup")
    subjects = sorted(r.header("Subject") for r in smtp.to(address))
    assert sum("before the outage" in s for s in subjects) == 1
    assert sum("during the outage 1" in s for s in subjects) == 1
    assert sum("during the outage 2" in s for s in subjects) == 1
    assert await system.email_metric("sent") == 2  # since this email process started
    webhook = await queue_messages(amqp_connection, declared.queue("webhook"))
    assert len(webhook) == webhook_before
    assert not any((m.headers or {}).get(REPLAY_HEADER) for m in webhook)


async def test_send_and_announce_create_notifications_through_the_api(
    cli: Cli, system: System, amqp_connection: aio_pika.abc.AbstractRobustConnection
) -> None:
    system.start_api()
    user = new_user("send")
    result = await cli(
        "send", "--to", user, "--title", "Disk almost full", "--priority", "high",
        "--api-url", system.api_url,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["count"] == 1
    assert created["notifications"][0]["user_id"] == user

    announced = await cli(
        "announce", "--title", "Maintenance at 22:00", "--to", user, "--api-url", system.api_url
    )
    assert announced.exit_code == 0, announced.stderr
    assert json.loads(announced.stdout)["count"] == 1

    bad = await cli("send", "--to", user, "--title", "x", "--priority", "loud",
                    "--api-url", system.api_url)  # fmt: skip
    assert bad.exit_code == 2
    assert "422" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


async def test_status_fails_while_the_relay_is_stopped_and_recovers_when_it_runs(
    cli: Cli, system: System
) -> None:
    api = system.start_api(relay=False)
    await _notify(system, new_user("lag"), "waiting for the relay")
    services = ["--service", f"notification={system.api_url}"]

    stuck = await cli("status", "--max-relay-lag", "0", *services)
    assert stuck.exit_code == 1, stuck.stdout
    assert "relay lag" in stuck.stdout

    api.stop()
    system.start_api(relay=True)

    async def status() -> tuple[int, str]:
        result = await cli("status", "--max-relay-lag", "0", *services)
        return result.exit_code, result.stdout

    # The relay caught up; what remains are the email and webhook queues, whose consumers
    # this test does not run: status still says so.
    code, screen = await eventually(
        status, lambda r: "relay: 0 events waiting" in r[1], timeout=30, what="relay caught up"
    )
    assert "relay lag" not in screen
    assert code == 1 and "has no consumer" in screen


async def test_traceparent_of_the_api_request_reaches_the_email_consumers_log_lines(
    system: System, smtp: ScriptedSmtp, database_url: str
) -> None:
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    user = new_user("trace")
    system.start_api()
    email = system.start_email()
    await system.post(f"/api/v1/subscribers/{user}", {"email": f"{user}@example.test"}, "PUT")
    token = mint_token(
        JwtSettings(secret=system.env["JWT_SECRET"]), "e2e-service", scopes=[WRITE_SCOPE]
    )
    async with httpx.AsyncClient(base_url=system.api_url, timeout=10) as client:
        response = await client.post(
            "/api/v1/notifications",
            json={"recipients": [user], "type": "ops.test", "title": "traced", "priority": "high"},
            headers={"Authorization": f"Bearer {token}", "traceparent": traceparent},
        )
    assert response.status_code == 201, response.text
    assert trace_id in response.headers["traceparent"]
    await eventually(lambda: len(smtp.to(f"{user}@example.test")), lambda n: n == 1, what="email")

    def traced_lines() -> list[dict[str, object]]:
        lines = [json.loads(x) for x in email.log_text().splitlines() if x.startswith("{")]
        return [x for x in lines if x.get("trace_id") == trace_id]

    lines = await eventually(traced_lines, what="email log lines with the request's trace id")
    assert any(x.get("user_id") == user and x.get("event_id") for x in lines)
    assert all(x["service"] == "email" for x in lines)
