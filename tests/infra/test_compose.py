"""docker-compose.yml, alone and with docker-compose.cluster.yml on top (the cluster shape),
against the code: every variable a service is given is one its Settings reads, ports and
health checks agree, start-up order waits for health, and the cluster shape has the nodes and
copies it promises, each given every broker node. (No Docker engine runs here; these checks
are what can be proved without one; `make compose-test` runs the single shape for real.)"""

from __future__ import annotations

import importlib
import re
import tomllib
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic_settings import BaseSettings

from tests.infra.compose import (
    CLUSTER_FILE,
    REPO_ROOT,
    env_names,
    environment,
    gateway_config,
    load_compose,
    nginx_upstreams,
)

MODULE_SETTINGS = {
    "services.notification": "services.notification.settings:Settings",
    "services.realtime": "services.realtime.settings:Settings",
    "services.email": "services.email.settings:Settings",
    "services.webhook": "services.webhook.settings:Settings",
    "services.push": "services.push.settings:Settings",
    "services.demo": "services.demo.settings:Settings",
}
INFRASTRUCTURE = {"postgres", "rabbitmq", "redis", "mailpit", "gateway"}
SHAPES: dict[str, dict[str, Any]] = {
    "single": load_compose(),
    "cluster": load_compose(CLUSTER_FILE),
}
COMPOSE = SHAPES["single"]
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def _settings_class(path: str) -> type[BaseSettings]:
    module, _, name = path.partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, BaseSettings)
    return cls


def _python_module(service: dict[str, Any]) -> str | None:
    command = service.get("command") or []
    if len(command) >= 3 and command[:2] == ["python", "-m"]:
        return str(command[2])
    return None


def app_services(services: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {
        name: module
        for name, service in services.items()
        if (module := _python_module(service)) is not None
    }


APP_SERVICES = app_services(SERVICES)
EVERY_APP_SERVICE = [
    (shape, name) for shape, compose in SHAPES.items() for name in app_services(compose["services"])
]


def test_compose_runs_every_part_with_two_realtime_instances() -> None:
    assert {"postgres", "rabbitmq", "mailpit", "migrate", "gateway"} <= set(SERVICES)
    assert sorted(APP_SERVICES.values()) == sorted(
        [
            "services.demo",
            "services.email",
            "services.notification",
            "services.push",
            "services.realtime",
            "services.realtime",
            "services.webhook",
        ]
    )
    assert SERVICES["rabbitmq"]["image"].startswith("rabbitmq:3-management")
    ids = {environment(SERVICES[n])["INSTANCE_ID"] for n in ("realtime-1", "realtime-2")}
    assert len(ids) == 2


@pytest.mark.parametrize(("shape", "name"), EVERY_APP_SERVICE)
def test_every_variable_is_read_by_the_services_settings(
    shape: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = SHAPES[shape]["services"][name]
    settings_class = _settings_class(MODULE_SETTINGS[app_services(SHAPES[shape]["services"])[name]])
    env = environment(service)
    unknown = set(env) - env_names(settings_class)
    assert not unknown, f"{name}: {sorted(unknown)} are not read by {settings_class.__module__}"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = settings_class()
    port = int(env["PORT"])
    assert getattr(settings, "port") == port  # noqa: B009
    assert getattr(settings, "host") == "0.0.0.0"  # noqa: B009
    assert str(port) in " ".join(service["healthcheck"]["test"]), "health check on another port"


@pytest.mark.parametrize(("shape", "name"), EVERY_APP_SERVICE)
def test_services_reach_their_servers_by_compose_name(shape: str, name: str) -> None:
    services = SHAPES[shape]["services"]
    env = environment(services[name])
    apis = [f"http://{n}:8000" for n in copies(services, "services.notification")]
    for key, hosts in (
        ("DATABASE_URL", ["@postgres:5432/"]),
        ("AMQP_URL", ["@rabbitmq:5672/"]),
        ("NOTIFICATION_API_URL", apis),
        ("SMTP_HOST", ["mailpit"]),
    ):
        if key in env:
            assert any(host in env[key] for host in hosts), f"{name}: {key}={env[key]}"


@pytest.mark.parametrize("shape", SHAPES)
def test_migrate_job_uses_cli_settings_and_declares_the_topology(shape: str) -> None:
    from tocsin_cli.settings import CliSettings

    migrate = SHAPES[shape]["services"]["migrate"]
    env = environment(migrate)
    assert set(env) <= env_names(CliSettings)
    script = " ".join(migrate["command"])
    assert "tocsin migrate" in script and "tocsin topology declare" in script
    assert migrate["restart"] == "no"


@pytest.mark.parametrize("shape", SHAPES)
def test_long_running_services_have_health_checks_and_wait_for_health(shape: str) -> None:
    services = SHAPES[shape]["services"]
    for name, service in services.items():
        if name == "migrate":
            continue
        assert "healthcheck" in service, f"{name} has no healthcheck"
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            condition = rule["condition"]
            if dependency == "migrate":
                assert condition == "service_completed_successfully"
            else:
                assert condition == "service_healthy", f"{name} → {dependency}"
                assert "healthcheck" in services[dependency]
    for name in app_services(services):
        assert services[name].get("depends_on"), f"{name} starts without waiting for anything"


@pytest.mark.parametrize("shape", SHAPES)
def test_gateway_upstreams_are_every_copy_of_each_service_on_its_port(shape: str) -> None:
    services = SHAPES[shape]["services"]
    upstreams = nginx_upstreams(gateway_config(SHAPES[shape]))
    assert {"realtime", "notification", "webhook", "push", "demo"} <= set(upstreams)
    for upstream, servers in upstreams.items():
        hosts = {host for host, _ in servers}
        copies = {n for n, m in app_services(services).items() if m == f"services.{upstream}"}
        assert hosts == copies, f"{upstream}: the gateway balances over {hosts}, not {copies}"
        for host, port in servers:
            assert int(environment(services[host])["PORT"]) == port
    gateway = services["gateway"]
    assert gateway["volumes"] == [
        "./infra/nginx/tocsin.conf.template:/etc/nginx/templates/nginx.conf.template:ro"
    ]
    assert environment(gateway)["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx"
    assert gateway["ports"] == ["${TOCSIN_HTTP_PORT:-8000}:80"]


@pytest.mark.parametrize("shape", SHAPES)
def test_only_the_gateway_and_operator_uis_publish_ports(shape: str) -> None:
    services = SHAPES[shape]["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    for name in published:
        for mapping in services[name]["ports"]:
            assert mapping.startswith("${TOCSIN_"), f"{name}: fixed host port {mapping}"
    assert published <= {"gateway", "rabbitmq", "mailpit"} | INFRASTRUCTURE


def test_the_image_copies_every_package_the_distribution_installs() -> None:
    """A package in pyproject.toml's `include` that the Dockerfile does not copy starts in no
    container (`make compose-test` found `outbound` missing that way)."""
    include = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    packages = {pattern.split(".")[0].rstrip("*") for pattern in include}
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+)/ \1/$", dockerfile, re.M))
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"


CLUSTER = SHAPES["cluster"]["services"]
BROKER_NODES = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")
# The parts that declare quorum queues (consumers and `tocsin topology declare`).
QUEUE_DECLARERS = {"services.notification", "services.email", "services.webhook", "services.push"}


def copies(services: dict[str, dict[str, Any]], module: str) -> list[str]:
    return sorted(name for name, m in app_services(services).items() if m == module)


def test_the_cluster_shape_runs_three_broker_nodes_two_notification_and_three_realtime() -> None:
    notification = copies(CLUSTER, "services.notification")
    realtime = copies(CLUSTER, "services.realtime")
    assert len(notification) == 2 and len(realtime) == 3
    assert len({environment(CLUSTER[name])["INSTANCE_ID"] for name in realtime}) == 3
    for name in notification:
        assert environment(CLUSTER[name])["RELAY_PARTITIONS"] == "4"
        assert "RELAY_MAX_PARTITIONS" not in environment(CLUSTER[name])  # each stands by for all
    assert len(copies(CLUSTER, "services.demo")) == 1


def test_the_three_broker_nodes_form_one_cluster() -> None:
    conf = (REPO_ROOT / "infra" / "rabbitmq" / "cluster.conf").read_text()
    assert "classic_config.nodes.1 = rabbit@rabbitmq\n" in conf  # the others join the first
    mount = "./infra/rabbitmq/cluster.conf:/etc/rabbitmq/conf.d/20-cluster.conf:ro"
    cookies, data = set(), set()
    for node in BROKER_NODES:
        service = CLUSTER[node]
        assert service["image"] == SERVICES["rabbitmq"]["image"]
        assert service["hostname"] == node  # the node name is rabbit@<hostname>
        assert mount in service["volumes"]
        cookies.add(environment(service)["RABBITMQ_ERLANG_COOKIE"])
        data.update(v for v in service["volumes"] if v.endswith(":/var/lib/rabbitmq"))
        assert "healthcheck" in service
    assert len(cookies) == 1 and "TOCSIN_RABBITMQ_COOKIE" in str(CLUSTER["rabbitmq-2"])
    assert len(data) == 3, "each node keeps its own data volume"
    for node in BROKER_NODES[1:]:  # they join the first rather than forming clusters of their own
        assert CLUSTER[node]["depends_on"] == {"rabbitmq": {"condition": "service_healthy"}}
    assert set(BROKER_NODES) <= set(CLUSTER["migrate"]["depends_on"])  # 3 replicas from the start


@pytest.mark.parametrize("name", sorted(n for n, s in CLUSTER.items() if "AMQP_URL" in str(s)))
def test_every_broker_client_of_the_cluster_shape_is_given_every_node_as_its_own_user(
    name: str,
) -> None:
    urls = [urlsplit(url) for url in environment(CLUSTER[name])["AMQP_URL"].split(",")]
    assert [url.hostname for url in urls] == list(BROKER_NODES)
    assert {url.port for url in urls} == {5672}
    [user] = {url.username for url in urls}
    module = _python_module(CLUSTER[name])
    same_part = next((n for n, m in APP_SERVICES.items() if m == module), name)
    single = urlsplit(environment(SERVICES[same_part])["AMQP_URL"]).username
    assert user == single, f"{name} connects as {user}, the single shape as {single}"


def test_every_part_that_declares_quorum_queues_asks_for_the_same_group_size() -> None:
    """RabbitMQ refuses a declaration whose group size differs from the queue's: every
    declarer is given the same TOCSIN_QUORUM_GROUP_SIZE, one replica per node."""
    declarers = [n for n, m in app_services(CLUSTER).items() if m in QUEUE_DECLARERS]
    sizes = {n: environment(CLUSTER[n]).get("TOCSIN_QUORUM_GROUP_SIZE") for n in declarers}
    sizes["migrate"] = environment(CLUSTER["migrate"]).get("TOCSIN_QUORUM_GROUP_SIZE")
    assert set(sizes.values()) == {str(len(BROKER_NODES))}, sizes
