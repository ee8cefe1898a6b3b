"""docker-compose.yml against the code: every variable a service is given is one its Settings
reads, ports and health checks agree, and start-up order waits for health. (No Docker engine
runs here; these checks are what can be proved without one.)"""

from __future__ import annotations

import importlib
import re
import tomllib
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from tests.infra.compose import (
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
COMPOSE = load_compose()
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


APP_SERVICES = {
    name: _python_module(service)
    for name, service in SERVICES.items()
    if _python_module(service) is not None
}


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


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_every_variable_is_read_by_the_services_settings(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = SERVICES[name]
    settings_class = _settings_class(MODULE_SETTINGS[str(APP_SERVICES[name])])
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


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_services_reach_their_servers_by_compose_name(name: str) -> None:
    env = environment(SERVICES[name])
    for key, host in (
        ("DATABASE_URL", "@postgres:5432/"),
        ("AMQP_URL", "@rabbitmq:5672/"),
        ("NOTIFICATION_API_URL", "http://notification:8000"),
        ("SMTP_HOST", "mailpit"),
    ):
        if key in env:
            assert host in env[key], f"{name}: {key}={env[key]}"


def test_migrate_job_uses_cli_settings_and_declares_the_topology(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tocsin_cli.settings import CliSettings

    migrate = SERVICES["migrate"]
    env = environment(migrate)
    assert set(env) <= env_names(CliSettings)
    script = " ".join(migrate["command"])
    assert "tocsin migrate" in script and "tocsin topology declare" in script
    assert migrate["restart"] == "no"


def test_long_running_services_have_health_checks_and_wait_for_health() -> None:
    for name, service in SERVICES.items():
        if name == "migrate":
            continue
        assert "healthcheck" in service, f"{name} has no healthcheck"
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            condition = rule["condition"]
            if dependency == "migrate":
                assert condition == "service_completed_successfully"
            else:
                assert condition == "service_healthy", f"{name} → {dependency}"
                assert "healthcheck" in SERVICES[dependency]
    for name in APP_SERVICES:
        assert SERVICES[name].get("depends_on"), f"{name} starts without waiting for anything"


def test_gateway_upstreams_are_compose_services_on_their_ports() -> None:
    upstreams = nginx_upstreams(gateway_config(COMPOSE))
    assert {"realtime", "notification", "webhook", "demo"} <= set(upstreams)
    assert len(upstreams["realtime"]) == 2
    for servers in upstreams.values():
        for host, port in servers:
            assert host in SERVICES, f"nginx upstream {host} is not a compose service"
            assert int(environment(SERVICES[host])["PORT"]) == port
    gateway = SERVICES["gateway"]
    assert gateway["volumes"] == [
        "./infra/nginx/tocsin.conf.template:/etc/nginx/templates/nginx.conf.template:ro"
    ]
    assert environment(gateway)["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx"
    assert gateway["ports"] == ["${TOCSIN_HTTP_PORT:-8000}:80"]


def test_only_the_gateway_and_operator_uis_publish_ports() -> None:
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    for name in published:
        for mapping in SERVICES[name]["ports"]:
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
