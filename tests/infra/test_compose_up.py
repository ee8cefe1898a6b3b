"""docker-compose.yml running for real, as a user runs it: started by `make compose-test`
(scripts/compose-test), which sets TOCSIN_COMPOSE (the docker-compose command with its files)
and the published ports. Everything a client does goes through the gateway's published port;
the mail catcher and the webhook receiver are read through their own published ports, and
`tocsin status` and the realtime metrics are read from inside the compose network."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from standardwebhooks.webhooks import Webhook
from websockets.asyncio.client import ClientConnection

from identity import JwtSettings, mint_token
from identity.tokens import WRITE_SCOPE
from observability.metrics import parse_metrics
from tests.infra.compose import CLUSTER_FILE, environment, load_compose
from tests.support.users import new_user
from tests.support.waiting import eventually

pytestmark = pytest.mark.skipif(
    not os.environ.get("TOCSIN_COMPOSE"), reason="needs the running containers: make compose-test"
)

COMPOSE = shlex.split(os.environ.get("TOCSIN_COMPOSE", ""))
GATEWAY = f"127.0.0.1:{os.environ.get('TOCSIN_HTTP_PORT', '8080')}"
MAILPIT = f"http://127.0.0.1:{os.environ.get('TOCSIN_MAILPIT_PORT', '8025')}"
RECEIVER = f"http://127.0.0.1:{os.environ.get('TOCSIN_RECEIVER_PORT', '9000')}"
RECEIVER_IN_NETWORK = "http://webhook-receiver:9000"
# `scripts/compose-test --cluster` runs docker-compose.cluster.yml on top (three broker nodes).
CLUSTER = os.environ.get("TOCSIN_COMPOSE_SHAPE") == "cluster"
SERVICES = (load_compose(CLUSTER_FILE) if CLUSTER else load_compose())["services"]
REALTIME, NOTIFICATION = (
    sorted(name for name, service in SERVICES.items() if module in service.get("command", []))
    for module in ("services.realtime", "services.notification")
)  # every copy: restarting one of two notification services would refuse no request
# The secret the containers were given: the caller's JWT_SECRET, else the compose default.
JWT = JwtSettings(
    secret=os.environ.get("JWT_SECRET") or environment(SERVICES["notification"])["JWT_SECRET"]
)
IN_NETWORK_URLS = {
    "TOCSIN_SERVICE_URLS": "notification=http://notification:8000,email=http://email:8002,"
    "webhook=http://webhook:8003",
    "TOCSIN_REALTIME_URLS": ",".join(f"http://{name}:8001" for name in REALTIME),
}


def compose(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMPOSE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def user_token(user: str) -> str:
    return mint_token(JWT, user, ttl_s=900)


def service_headers() -> dict[str, str]:
    token = mint_token(JWT, "compose-test", scopes=[WRITE_SCOPE], ttl_s=900)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module", autouse=True)
def gateway_ready() -> Iterator[None]:
    """The gateway answers and routes to the API (compose waited for the health checks)."""

    def probe() -> int:
        try:
            return httpx.get(f"http://{GATEWAY}/openapi.json", timeout=3).status_code
        except httpx.HTTPError:
            return 0

    asyncio.run(eventually(probe, lambda code: code == 200, timeout=90, what="gateway → API"))
    yield


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://{GATEWAY}", timeout=10) as client:
        yield client


@asynccontextmanager
async def tab(user: str) -> AsyncIterator[ClientConnection]:
    """A browser tab of `user`: a WebSocket through the gateway, past connection:established."""
    url = f"ws://{GATEWAY}/api/v1/ws/notifications?token={user_token(user)}"
    async with websockets.connect(url, open_timeout=10) as socket:
        hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert hello["event"] == "connection:established", hello
        assert hello["data"]["user_id"] == user
        yield socket


async def next_of_type(socket: ClientConnection, kind: str, timeout: float = 20) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            message: dict[str, Any] = json.loads(await socket.recv())
            if message["event"] == kind:
                return message


async def create(api: httpx.AsyncClient, user: str, title: str, *, key: str | None = None) -> str:
    response = await api.post(
        "/api/v1/notifications",
        json={
            "recipients": [user],
            "type": "compose_check",
            "priority": "high",
            "title": title,
            "message": "Sent by make compose-test",
        },
        headers={**service_headers(), **({"Idempotency-Key": key} if key else {})},
    )
    assert response.status_code == 201, response.text
    notification_id: str = response.json()["notifications"][0]["id"]
    return notification_id


async def subscribe_email(api: httpx.AsyncClient, user: str) -> str:
    address = f"{user}@example.com"
    response = await api.put(
        f"/api/v1/subscribers/{user}", json={"email": address}, headers=service_headers()
    )
    assert response.status_code == 200, response.text
    return address


async def register_webhook(api: httpx.AsyncClient, user: str) -> str:
    response = await api.post(
        "/api/v1/webhooks/endpoints",
        json={"url": f"{RECEIVER_IN_NETWORK}/hooks/{user}"},
        headers={"Authorization": f"Bearer {user_token(user)}"},
    )
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


async def mails_to(address: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as client:
        listing = (await client.get(f"{MAILPIT}/api/v1/messages")).json()
    return [m for m in listing["messages"] if address in {t["Address"] for t in m["To"]}]


async def hooks_for(user: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as client:
        received: list[dict[str, Any]] = (await client.get(f"{RECEIVER}/received")).json()
    return [r for r in received if r["path"] == f"/hooks/{user}"]


def notification_ids_of(hooks: list[dict[str, Any]]) -> set[str]:
    return {json.loads(h["body"])["data"]["data"]["notification"]["id"] for h in hooks}


async def test_walkthrough_token_socket_ping_pong_and_notification_new(
    api: httpx.AsyncClient,
) -> None:
    user = new_user("walkthrough")
    async with tab(user) as socket:
        await socket.send(json.dumps({"type": "ping"}))
        assert (await next_of_type(socket, "pong", timeout=5))["event"] == "pong"
        notification_id = await create(api, user, "Disk almost full")
        event = await next_of_type(socket, "notification:new")
    assert event["data"]["id"] == notification_id
    assert event["data"]["title"] == "Disk almost full"


async def test_the_gateway_serves_the_demo_page_and_the_api_docs(api: httpx.AsyncClient) -> None:
    page = await api.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()
    docs = await api.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_an_email_reaches_the_mail_catcher(api: httpx.AsyncClient) -> None:
    user = new_user("mail")
    address = await subscribe_email(api, user)
    notification_id = await create(api, user, "Invoice 42 is overdue")
    mails = await eventually(lambda: mails_to(address), timeout=30, what=f"a mail to {address}")
    assert "Invoice 42 is overdue" in mails[0]["Subject"]
    async with httpx.AsyncClient(timeout=5) as client:
        headers = (await client.get(f"{MAILPIT}/api/v1/message/{mails[0]['ID']}/headers")).json()
    assert headers["X-Tocsin-Notification-Id"] == [notification_id]


async def test_a_signed_webhook_reaches_the_receiver_container(api: httpx.AsyncClient) -> None:
    user = new_user("hook")
    secret = await register_webhook(api, user)
    notification_id = await create(api, user, "Build 7 failed")
    hooks = await eventually(lambda: hooks_for(user), timeout=30, what=f"a webhook for {user}")
    body, headers = hooks[0]["body"], {k.lower(): v for k, v in hooks[0]["headers"].items()}
    event = Webhook(secret).verify(body, headers)  # raises when the signature is wrong
    assert event["data"]["data"]["notification"]["id"] == notification_id


def test_tocsin_status_is_healthy_from_inside_the_network() -> None:
    env = [arg for name, value in IN_NETWORK_URLS.items() for arg in ("-e", f"{name}={value}")]
    result = compose("exec", "-T", *env, "notification", "tocsin", "status")
    assert result.returncode == 0, result.stdout + result.stderr
    for service in ("notification", "email", "webhook"):
        assert service in result.stdout
    assert "not ready" not in result.stdout


def realtime_connections(instance: str) -> int:
    script = (
        "import urllib.request; "
        "print(urllib.request.urlopen('http://127.0.0.1:8001/metrics', timeout=5).read().decode())"
    )
    result = compose("exec", "-T", instance, "python", "-c", script)
    assert result.returncode == 0, result.stderr
    return int(parse_metrics(result.stdout).get("tocsin_realtime_connections", 0))


async def test_two_realtime_instances_each_serve_a_tab_of_the_user(
    api: httpx.AsyncClient,
) -> None:
    user = new_user("tabs")
    async with tab(user) as first, tab(user) as second:
        held = {name: realtime_connections(name) for name in REALTIME}
        assert sum(count >= 1 for count in held.values()) >= 2, held  # least_conn spreads them
        notification_id = await create(api, user, "Both tabs")
        events = [await next_of_type(s, "notification:new") for s in (first, second)]
    assert [e["data"]["id"] for e in events] == [notification_id, notification_id]


async def test_restarting_the_notification_and_email_services_loses_nothing(
    api: httpx.AsyncClient,
) -> None:
    """Notifications are created before, during and after `docker-compose restart`; every one
    the API accepted reaches the open socket, the mail catcher and the webhook receiver."""
    user = new_user("restart")
    address = await subscribe_email(api, user)
    await register_webhook(api, user)
    caller = PatientCaller(api, user)
    async with tab(user) as socket:
        for number in range(3):
            await caller.create(f"Before the restart {number}")
        restart = asyncio.create_task(
            asyncio.to_thread(compose, "restart", *NOTIFICATION, "email", timeout=180)
        )
        while not restart.done() and len(caller.created) < 300:
            await caller.create(f"Around the restart {len(caller.created)}")
            await asyncio.sleep(0.2)
        result = await restart
        assert result.returncode == 0, result.stderr
        for number in range(5):
            await caller.create(f"After the restart {number}")
        created = set(caller.created)
        seen: set[str] = set()
        async with asyncio.timeout(60):
            while not created <= seen:
                seen.add((await next_of_type(socket, "notification:new", timeout=60))["data"]["id"])

    async def mail_count() -> int:
        return len(await mails_to(address))

    await eventually(mail_count, lambda n: n >= len(created), timeout=60, what="every email")
    await eventually(
        lambda: hooks_for(user),
        lambda found: created <= notification_ids_of(found),
        timeout=60,
        what="every webhook",
    )
    assert caller.refused > 0, "no request met the restart: the check proved nothing"


class PatientCaller:
    """A service creating notifications with an Idempotency-Key, retrying while the API is
    down (connection refused, 502 from the gateway), as a real caller would."""

    def __init__(self, api: httpx.AsyncClient, user: str) -> None:
        self.api, self.user = api, user
        self.created: list[str] = []
        self.refused = 0

    async def create(self, title: str) -> None:
        key = uuid.uuid4().hex
        async with asyncio.timeout(90):
            while True:
                try:
                    self.created.append(await create(self.api, self.user, title, key=key))
                    return
                except (httpx.HTTPError, AssertionError):
                    self.refused += 1
                    await asyncio.sleep(0.5)


def broker_ctl(*args: str) -> str:
    result = compose("exec", "-T", "rabbitmq", "rabbitmqctl", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def running_broker_nodes() -> set[str]:
    out = broker_ctl("cluster_status", "--formatter", "json")
    # RabbitMQ 3.x prints a deprecation line for RABBITMQ_ERLANG_COOKIE before the JSON.
    status = json.loads(out[out.index("{") :])
    return set(status["running_nodes"])


@pytest.mark.skipif(not CLUSTER, reason="the cluster shape only: scripts/compose-test --cluster")
async def test_the_three_broker_nodes_are_one_cluster_and_a_stopped_node_loses_nothing(
    api: httpx.AsyncClient,
) -> None:
    """Every consumer queue has a replica on each node; with rabbitmq-2 stopped, a new
    notification still reaches the socket, the mail catcher and the webhook receiver (every
    service was given every node), and the node rejoins when started again."""
    nodes = {"rabbit@rabbitmq", "rabbit@rabbitmq-2", "rabbit@rabbitmq-3"}
    assert running_broker_nodes() == nodes
    rows = broker_ctl("list_queues", "-q", "--no-table-headers", "name", "members")
    members = {line.split("\t")[0]: line.split("\t")[1] for line in rows.splitlines() if line}
    for queue in ("tocsin.email", "tocsin.webhook", "tocsin.push"):
        assert all(node in members[queue] for node in nodes), (queue, members.get(queue))

    user = new_user("cluster")
    address = await subscribe_email(api, user)
    await register_webhook(api, user)
    stopped = compose("stop", "rabbitmq-2", timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    try:
        await eventually(running_broker_nodes, lambda running: len(running) == 2, timeout=60)
        async with tab(user) as socket:
            notification_id = await create(api, user, "A node is down")
            event = await next_of_type(socket, "notification:new", timeout=60)
            assert event["data"]["id"] == notification_id
        await eventually(lambda: mails_to(address), timeout=90, what="the mail with a node down")
        hooks = await eventually(lambda: hooks_for(user), timeout=90, what="the webhook")
        assert notification_ids_of(hooks) == {notification_id}
    finally:
        started = compose("start", "rabbitmq-2", timeout=120)
        assert started.returncode == 0, started.stderr
    await eventually(running_broker_nodes, lambda running: running == nodes, timeout=120)
