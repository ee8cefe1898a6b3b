"""The whole Tocsin pipeline as real processes, for fault tests, hostile-input tests and the soak.

`System` starts the notification service (API + relay + delivery-status consumer), one or more
realtime instances, the email consumer and the webhook service as real processes, plus an
in-process SMTP server (aiosmtpd) and an in-process HTTP receiver that verifies every webhook's
signature. Everything listens on 127.0.0.1 on free ports; everything it started is stopped by
PID, and its broker objects (one namespace of its own) are deleted at the end.

`PrivateRabbitMq` and `PrivatePostgres` are servers of a test's own, for faults that stop or
restart a broker or a database: the shared servers are never touched.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from contracts.presence import default_presence_prefix
from contracts.topology import Topology
from identity import JwtSettings, mint_token
from identity.tokens import EVENTS_READ_SCOPE, WEBHOOKS_ADMIN_SCOPE, WRITE_SCOPE
from messaging import brokers
from messaging.topology import DEFAULT_RETRY_DELAYS_MS
from tests.email.smtp_server import ScriptedSmtp, SmtpServer
from tests.support.infra import free_port, unique_namespace
from tests.support.processes import REPO_ROOT, ServiceProcess
from tests.support.webhook_receiver import WebhookReceiver

JWT_SECRET = "tocsin-system-tests-secret"
JWT = JwtSettings(secret=JWT_SECRET)
EMAIL_RETRY_DELAYS_MS = (300, 1_000)
WEBHOOK_RETRY_DELAYS_MS = (300, 1_000)
UNSUBSCRIBE_SECRET = "tocsin-system-unsubscribe"


def user_headers(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(JWT, user_id)}"}


def service_headers(name: str = "svc-system") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(JWT, name, scopes=[WRITE_SCOPE])}"}


# --------------------------------------------------------------------------- the pipeline


@dataclass
class System:
    """Every Tocsin service as a real process on one namespace of its own."""

    database_url: str
    amqp_url: str
    realtime_instances: int = 1
    jwt: JwtSettings = field(default_factory=lambda: JWT)
    namespace: str = field(default_factory=unique_namespace)
    origins: str = "http://127.0.0.1:8080"
    """CORS_ORIGINS: the one setting for the API's CORS and the WebSocket Origin check."""
    notification_env: dict[str, str] = field(default_factory=dict)
    realtime_env: dict[str, str] = field(default_factory=dict)
    webhook_env: dict[str, str] = field(default_factory=dict)
    email_enabled: bool = True
    webhook_enabled: bool = True
    log_level: str = "WARNING"
    """LOG_LEVEL of every service."""
    smtp: ScriptedSmtp = field(default_factory=ScriptedSmtp)
    receiver: WebhookReceiver = field(default_factory=WebhookReceiver)
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    _smtp_server: SmtpServer | None = None

    @property
    def topology(self) -> Topology:
        return Topology(self.namespace)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['notification']}"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['webhook']}"

    def ws_url(self, instance: int = 0) -> str:
        return f"ws://127.0.0.1:{self.ports[f'realtime-{instance}']}/api/v1/ws/notifications"

    def realtime_url(self, instance: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[f'realtime-{instance}']}"

    def user_headers(self, user_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.jwt, user_id)}"}

    def service_headers(self, name: str = "svc-system") -> dict[str, str]:
        """A sending service: `notifications:write` only."""
        token = mint_token(self.jwt, name, scopes=[WRITE_SCOPE])
        return {"Authorization": f"Bearer {token}"}

    def events_reader_headers(self, name: str = "svc-realtime") -> dict[str, str]:
        """What the realtime service holds: `events:read` only."""
        token = mint_token(self.jwt, name, scopes=[EVENTS_READ_SCOPE])
        return {"Authorization": f"Bearer {token}"}

    def webhooks_admin_headers(self, name: str = "svc-webhook-admin") -> dict[str, str]:
        """A webhook administrator: `webhooks:admin` only."""
        token = mint_token(self.jwt, name, scopes=[WEBHOOKS_ADMIN_SCOPE])
        return {"Authorization": f"Bearer {token}"}

    def _jwt_env(self) -> dict[str, str]:
        env = {
            "JWT_SECRET": self.jwt.secret or "",
            "JWT_PUBLIC_KEY": self.jwt.public_key or "",
            "JWT_AUDIENCE": self.jwt.audience or "",
            "JWT_ISSUER": self.jwt.issuer or "",
        }
        return {name: value for name, value in env.items() if value}

    def _common(self) -> dict[str, str]:
        return {
            "AMQP_URL": self.amqp_url,
            "DATABASE_URL": self.database_url,
            "TOCSIN_NAMESPACE": self.namespace,
            **self._jwt_env(),
            "HOST": "127.0.0.1",
            "LOG_LEVEL": self.log_level,
            "UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
            "CORS_ORIGINS": self.origins,
        }

    def _process(self, name: str, module: str, env: dict[str, str], health: str) -> ServiceProcess:
        port = self.ports.setdefault(name, free_port())
        return ServiceProcess.python_module(
            f"system-{self.namespace}-{name}",
            module,
            {**self._common(), **env, "PORT": str(port)},
            health_url=f"http://127.0.0.1:{port}{health}",
        )

    def build(self, name: str, health: str = "/readyz") -> ServiceProcess:
        """The process `name` (notification, realtime-<i>, email, webhook), not started;
        starting it waits until `health` answers 200."""
        if name == "notification":
            return self._process(
                name,
                "services.notification",
                {
                    "INCIDENTS_ENABLED": "false",
                    "RELAY_POLL_INTERVAL_S": "0.2",
                    "DB_POOL_SIZE": "10",
                    "CURSOR_SECRET": f"cursor-{self.namespace}",
                    **self.notification_env,
                },
                health,
            )
        if name.startswith("realtime-"):
            return self._process(
                name,
                "services.realtime",
                {
                    "NOTIFICATION_API_URL": self.api_url,
                    "REDIS_URL": redis_url(),
                    "UNBIND_GRACE_S": "0.5",
                    "SHUTDOWN_TIMEOUT_S": "2",
                    "INSTANCE_ID": f"{name}-{uuid.uuid4().hex[:6]}",
                    **self.realtime_env,
                },
                health,
            )
        if name == "email":
            return self._process(
                name,
                "services.email",
                {
                    "SMTP_HOST": "127.0.0.1",
                    "SMTP_PORT": str(self.smtp.port),
                    "SMTP_TIMEOUT_S": "5",
                    "RETRY_DELAYS_MS": json.dumps(list(EMAIL_RETRY_DELAYS_MS)),
                    "DB_POOL_SIZE": "4",
                    "PUBLIC_API_URL": "http://127.0.0.1:8000",
                },
                health,
            )
        if name == "webhook":
            return self._process(
                name,
                "services.webhook",
                {
                    "WEBHOOK_ALLOWED_PRIVATE_TARGETS": f"127.0.0.1:{self.receiver.port}",
                    "WEBHOOK_TOCSIN_URLS": ",".join(
                        f"http://127.0.0.1:{p}" for p in self.ports.values()
                    ),
                    "WEBHOOK_TIMEOUT_S": "5",
                    "WEBHOOK_RETRY_DELAYS_MS": ",".join(map(str, WEBHOOK_RETRY_DELAYS_MS)),
                    **self.webhook_env,
                },
                health,
            )
        raise ValueError(name)

    def names(self) -> list[str]:
        names = ["notification", *(f"realtime-{i}" for i in range(self.realtime_instances))]
        if self.email_enabled:
            names.append("email")
        if self.webhook_enabled:
            names.append("webhook")
        return names

    def start(self) -> System:
        self.start_receivers()
        for name in self.names():
            self.start_service(name)
        return self

    def start_receivers(self) -> None:
        """The SMTP server and the webhook receiver, without any service."""
        self._smtp_server = SmtpServer(self.smtp).__enter__()
        self.receiver.start()

    def start_service(
        self, name: str, timeout: float = 60.0, health: str = "/readyz"
    ) -> ServiceProcess:
        """(Re)start one service on its port and wait until it is ready (until `health`
        answers 200: "/healthz" waits only until it serves)."""
        process = self.build(name, health)
        self.processes[name] = process
        process.start(timeout)
        return process

    def logs(self) -> dict[str, str]:
        """Each service's log so far (name → text)."""
        return {name: process.log_text() for name, process in self.processes.items()}

    def kill(self, name: str) -> None:
        """SIGKILL the process we started for `name`."""
        self.processes[name].kill()

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            with suppress(Exception):
                process.stop()
        if self._smtp_server is not None:
            self._smtp_server.__exit__(None, None, None)
        with suppress(Exception):
            self.receiver.stop()
        with suppress(Exception):
            asyncio.run(delete_broker_objects(self.amqp_url, self.topology))
        with suppress(Exception):
            delete_presence_keys(self.namespace)  # a killed instance's would expire in a minute

    # ------------------------------------------------------------------ calls a test makes

    def subscribe(self, user_id: str, email: str | None = None) -> str:
        """Give `user_id` an email address (for the email consumer) and return it."""
        address = email or f"{user_id}@example.test"
        response = httpx.put(
            f"{self.api_url}/api/v1/subscribers/{user_id}",
            json={"email": address, "name": "Ada", "locale": None},
            headers=self.service_headers(),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return address

    def register_webhook(self, user_id: str, path: str | None = None) -> str:
        """Register a webhook endpoint of `user_id` on the receiver; return its path."""
        path = path or f"hook-{user_id}"
        response = httpx.post(
            f"{self.webhook_url}/api/v1/webhooks/endpoints",
            json={"url": self.receiver.url(path)},
            headers=self.user_headers(user_id),
            timeout=10,
        )
        assert response.status_code == 201, response.text
        self.receiver.secrets[path] = response.json()["secret"]
        return path


def consumer_queues(topology: Topology) -> list[str]:
    names: list[str] = []
    for consumer, delays in (
        ("email", EMAIL_RETRY_DELAYS_MS),
        ("webhook", WEBHOOK_RETRY_DELAYS_MS),
        ("notification-deliveries", DEFAULT_RETRY_DELAYS_MS),
        ("notification-incidents", DEFAULT_RETRY_DELAYS_MS),
    ):
        names += [topology.queue(consumer), topology.dead_letter_queue(consumer)]
        names += [topology.retry_queue(consumer, d) for d in delays]
    return names


def redis_url() -> str:
    """The Redis of the realtime instances' presence: TEST_REDIS_URL, else the local one."""
    return os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


def delete_presence_keys(namespace: str) -> None:
    """Delete the presence keys of the system's namespace (its instances' default prefix)."""
    client = redis.Redis.from_url(redis_url(), socket_timeout=5)
    try:
        prefix = default_presence_prefix(namespace)
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            client.delete(key)
    finally:
        client.close()


async def delete_broker_objects(amqp_url: str, topology: Topology) -> None:
    """Delete the system's queues and exchanges (on any live node when AMQP_URL lists several)."""
    connection = await brokers.connect(amqp_url, timeout=5)
    try:
        channel = await connection.channel()
        for name in consumer_queues(topology):
            try:
                await channel.queue_delete(name)
            except Exception:
                channel = await connection.channel()
        for exchange in (topology.events_exchange, topology.incidents_exchange):
            try:
                await channel.exchange_delete(exchange)
            except Exception:
                channel = await connection.channel()
    finally:
        await connection.close()


@contextmanager
def running_system(database_url: str, amqp_url: str, **options: Any) -> Iterator[System]:
    system = System(database_url, amqp_url, **options)
    try:
        yield system.start()
    finally:
        system.stop()


# --------------------------------------------------------------------------- private servers


RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


class PrivateRabbitMq:
    """A RabbitMQ node of our own (own name, ports, data and log folders), so a test can stop
    and restart a broker without touching the shared one. Only this node is ever stopped."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tocsin-rabbit-"))
        self.node = f"tocsin-fault-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        (self.dir / "enabled_plugins").write_text("[].\n")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        d = self.dir
        return {
            **os.environ,
            "HOME": str(d),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(d / "pid"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
        }

    def ctl(self, *args: str, timeout: float = 90) -> None:
        subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, *args],
            env=self._env(),
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def start(self) -> PrivateRabbitMq:
        subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmq-server"), "-detached"],
            env=self._env(),
            check=True,
            capture_output=True,
            timeout=30,
        )
        deadline = time.monotonic() + 120
        while True:  # the node answers only once it registered its name
            try:
                self.ctl("await_startup", "--timeout", "60", timeout=90)
                return self
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")

    def remove_binding(self, exchange: str, queue: str, key: str) -> None:
        """Delete one exchange → queue binding inside the node, as if the broker lost it: no
        AMQP client could (an exclusive queue accepts unbinds only from its own connection),
        and the queue's owner is not told."""
        binding = (
            f'{{binding, {{resource, <<"/">>, exchange, <<"{exchange}">>}}, <<"{key}">>, '
            f'{{resource, <<"/">>, queue, <<"{queue}">>}}, []}}'
        )
        self.ctl("eval", f'ok = rabbit_binding:remove({binding}, <<"tests">>).')

    def bindings(self, queue: str) -> set[str]:
        """The routing keys bound to `queue`, from the node itself."""
        out = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, "list_bindings", "-q",
             "--no-table-headers", "destination_name", "routing_key"],
            env=self._env(), check=True, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        rows = (line.split("\t") for line in out.stdout.splitlines())
        return {row[1] for row in rows if len(row) == 2 and row[0] == queue}

    def consumers(self) -> dict[str, int]:
        """Queue name → consumer count, from the node itself."""
        out = subprocess.run(
            [
                str(RABBITMQ_BIN / "rabbitmqctl"),
                "-n",
                self.node,
                "list_queues",
                "-q",
                "--no-table-headers",
                "name",
                "consumers",
            ],
            env=self._env(),
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        counts: dict[str, int] = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                counts[parts[0]] = int(parts[1])
        return counts

    def stop(self) -> None:
        with suppress(Exception):
            self.ctl("stop", timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePostgres:
    """A Postgres cluster of our own in a temporary folder (initdb, trust), started and stopped
    with its own pg_ctl; the shared cluster is never touched."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tocsin-pg-"))
        shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.database_url = ""

    @property
    def server_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(POSTGRES_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
                  "-w", "start")  # fmt: skip
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with suppress(Exception):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def require_private_servers() -> None:
    """Fail (never skip) when the RabbitMQ and Postgres server binaries that private nodes and
    clusters run from are missing: a fault test that cannot run is not a pass."""
    missing = [
        str(path)
        for path in (RABBITMQ_BIN / "rabbitmq-server", POSTGRES_BIN / "initdb")
        if not path.exists()
    ]
    if missing:
        pytest.fail(
            f"server binaries missing ({', '.join(missing)}): install Debian's rabbitmq-server "
            "and postgresql-15 to run private nodes"
        )


__all__ = [
    "JWT",
    "JWT_SECRET",
    "REPO_ROOT",
    "PrivatePostgres",
    "PrivateRabbitMq",
    "System",
    "require_private_servers",
    "running_system",
    "service_headers",
    "user_headers",
]
