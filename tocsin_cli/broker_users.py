"""`tocsin topology users`: the per-service RabbitMQ users of `messaging.broker_users`.

Printed as a `rabbitmqctl` script whose passwords are references to environment variables
(`"$TOCSIN_AMQP_PASSWORD_EMAIL"`...), so the script holds no secret and can be kept or
reviewed; or applied through the management HTTP API with the administrator credentials of
`AMQP_URL` (what the compose `migrate` job does), reading each password from its variable and
refusing to run while one is missing.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from urllib.parse import quote, unquote, urlsplit

import httpx

from messaging.broker_users import BrokerUser, rabbitmqctl_commands, service_users
from tocsin_cli.errors import CliError
from tocsin_cli.settings import CliSettings


def users_script(settings: CliSettings, vhost: str = "/") -> str:
    """A shell script of `rabbitmqctl` commands; passwords stay environment references."""
    users = service_users(settings.topology)
    marks = {user.name: f"@@{user.password_variable}@@" for user in users}
    lines = []
    for command in rabbitmqctl_commands(users, marks, vhost):
        words = [shlex.quote(word) for word in ["rabbitmqctl", *command]]
        line = " ".join(words)
        for user in users:
            line = line.replace(shlex.quote(marks[user.name]), f'"${user.password_variable}"')
        if command[0] in ("add_user", "delete_user"):
            line += " || true"  # the script can be run again: the user exists / guest is gone
        lines.append(line)
    needed = " ".join(sorted(user.password_variable for user in users))
    header = f"#!/bin/sh\n# needs: {needed}\nset -eu\n"
    return header + "\n".join(lines) + "\n"


def passwords_from(env: Mapping[str, str], users: list[BrokerUser]) -> dict[str, str]:
    """Each user's password from its variable; CliError naming every missing one."""
    missing = [user.password_variable for user in users if not env.get(user.password_variable)]
    if missing:
        raise CliError(f"set {', '.join(missing)} (one password per broker user)")
    return {user.name: env[user.password_variable] for user in users}


def apply_over_http(
    settings: CliSettings,
    management_url: str,
    vhost: str = "/",
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Create or update every user with its permissions and delete `guest`, through the
    management API at `management_url` as the user of AMQP_URL. Returns the user names.
    Passwords come from `env` (default: the settings' TOCSIN_AMQP_PASSWORD_* variables)."""
    users = service_users(settings.topology)
    passwords = passwords_from(settings.broker_passwords() if env is None else env, users)
    parts = urlsplit(settings.amqp_url.split(",", 1)[0])
    auth = (unquote(parts.username or ""), unquote(parts.password or ""))
    v = quote(vhost, safe="")
    try:
        with httpx.Client(base_url=management_url.rstrip("/"), auth=auth, timeout=10) as api:
            for user in users:
                name = quote(user.name, safe="")
                body = {"password": passwords[user.name], "tags": ",".join(user.tags)}
                _check(api.put(f"/api/users/{name}", json=body))
                rules = {"configure": user.configure, "write": user.write, "read": user.read}
                _check(api.put(f"/api/permissions/{v}/{name}", json=rules))
                _check(api.delete(f"/api/topic-permissions/{v}/{name}"), missing_ok=True)
                for topic in user.topics:
                    rule = {"exchange": topic.exchange, "write": topic.write, "read": topic.read}
                    _check(api.put(f"/api/topic-permissions/{v}/{name}", json=rule))
            _check(api.delete("/api/users/guest"), missing_ok=True)
    except httpx.HTTPError as exc:
        raise CliError(
            f"cannot reach the RabbitMQ management API at {management_url}: {exc}"
        ) from exc
    return [user.name for user in users]


def _check(response: httpx.Response, missing_ok: bool = False) -> None:
    if response.is_success or (missing_ok and response.status_code == 404):
        return
    raise CliError(
        f"RabbitMQ management API: {response.request.method} {response.request.url.path} "
        f"answered {response.status_code}"
    )
