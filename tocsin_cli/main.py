"""The `tocsin` command: `tocsin --help` lists every command, each with an example.

Trying the system (`token`, `send`, `announce`) and setting it up (`migrate`, `topology
declare`) live here; operating it in `operations` (`replay`, `status`, `events tail`) and
`dead_letters` (`dlq ...`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from identity.tokens import EVENTS_READ_SCOPE, WEBHOOKS_ADMIN_SCOPE, WRITE_SCOPE
from tocsin_cli import admin, api, broker_users, devenv, gateway
from tocsin_cli.dead_letters import dlq_app
from tocsin_cli.errors import CliError, cli_errors, run_async
from tocsin_cli.operations import events_app, replay_command, status_command
from tocsin_cli.options import err, settings
from tocsin_cli.push import push_app

app = typer.Typer(
    name="tocsin",
    help="Operate Tocsin: tokens, notifications, replay, dead letters, status, live events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
topology_app = typer.Typer(help="RabbitMQ exchanges and queues.", no_args_is_help=True)
relay_app = typer.Typer(help="The outbox relay's partitions.", no_args_is_help=True)
app.add_typer(relay_app, name="relay")
gateway_app = typer.Typer(help="The nginx gateway's configuration.", no_args_is_help=True)
dev_app = typer.Typer(help="The local run's settings files.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(events_app, name="events")
app.add_typer(topology_app, name="topology")
app.add_typer(gateway_app, name="gateway")
app.add_typer(dev_app, name="dev")
app.add_typer(push_app, name="push")
app.command(
    name="replay",
    epilog="Example: tocsin replay --consumer email --since 2h --type notification.created",
)(replay_command)
app.command(name="status", epilog="Example: tocsin status || echo unhealthy")(status_command)


@app.callback()
def _quiet_libraries() -> None:
    """Connection errors are reported once, by the command, not by the AMQP library's logger."""
    for name in ("aiormq", "aio_pika"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


# -- trying the system -------------------------------------------------------------------------


@app.command(epilog="Example: tocsin token --user alice --ttl 86400")
@cli_errors
def token(
    user: Annotated[str, typer.Option("--user", "-u", help="The token's `sub` (user id).")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            "-s",
            help=f"Scope to grant (repeatable): {WRITE_SCOPE} (send), {EVENTS_READ_SCOPE} "
            f"(read event streams), {WEBHOOKS_ADMIN_SCOPE} (administer webhooks).",
        ),
    ] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
) -> None:
    """Mint a JWT with the configured JWT_SECRET (or JWT_PRIVATE_KEY) and print it."""
    typer.echo(api.token(settings(), user, scope or [], ttl))


@app.command(epilog='Example: tocsin send --to alice --title "Disk almost full" --priority high')
@cli_errors
def send(
    to: Annotated[list[str], typer.Option("--to", help="Recipient user id (repeatable).")],
    title: Annotated[str, typer.Option(help="Title shown in the bell.")],
    message: Annotated[str, typer.Option(help="Body text.")] = "",
    priority: Annotated[str, typer.Option(help="low, normal, high or critical.")] = "normal",
    type_: Annotated[str, typer.Option("--type", help="Notification type.")] = "system.message",
    entity_url: Annotated[str | None, typer.Option(help="Link to open.")] = None,
    api_url: Annotated[
        str | None, typer.Option(envvar="TOCSIN_API_URL", help="Notification API base URL.")
    ] = None,
) -> None:
    """Create a notification through the REST API, as a service (token minted from JWT_SECRET)."""
    body: dict[str, object] = {
        "recipients": to,
        "type": type_,
        "title": title,
        "message": message,
        "priority": priority,
    }
    if entity_url:
        body["entity_url"] = entity_url
    result = api.post(settings(), "/api/v1/notifications", body, api_url)
    typer.echo(json.dumps(result, indent=2, default=str))


@app.command(epilog='Example: tocsin announce --title "Maintenance at 22:00 UTC"')
@cli_errors
def announce(
    title: Annotated[str, typer.Option(help="Title shown to every connected user.")],
    message: Annotated[str, typer.Option(help="Body text.")] = "",
    priority: Annotated[str, typer.Option(help="low, normal, high or critical.")] = "normal",
    to: Annotated[
        list[str] | None, typer.Option("--to", help="Only these users (repeatable).")
    ] = None,
    api_url: Annotated[
        str | None, typer.Option(envvar="TOCSIN_API_URL", help="Notification API base URL.")
    ] = None,
) -> None:
    """Announce to every known user (or the --to users): one notification each, delivered live
    to connected users and by their preferred channels."""
    body: dict[str, object] = {"title": title, "message": message, "priority": priority}
    if to:
        body["recipients"] = to
    result = api.post(settings(), "/api/v1/announcements", body, api_url)
    typer.echo(json.dumps(result, indent=2, default=str))


# -- set-up ------------------------------------------------------------------------------------


@app.command(epilog="Example: tocsin migrate --create-database")
@cli_errors
def migrate(
    create_database: Annotated[
        bool, typer.Option("--create-database", help="Create the database first if missing.")
    ] = False,
) -> None:
    """Apply every service's database migrations (idempotent)."""
    config = settings()
    if create_database and run_async(admin.create_database(config)):
        typer.echo("created database")
    for service in admin.migrate(config):
        typer.echo(f"migrated {service}")


@topology_app.command("declare", epilog="Example: tocsin topology declare")
@cli_errors
def topology_declare() -> None:
    """Declare the exchanges and every consumer's queue, retry queues and DLQ (idempotent)."""
    config = settings()
    specs, notes = run_async(admin.declare_topology(config))
    typer.echo(f"declared {config.topology.events_exchange}, {config.topology.incidents_exchange}")
    for spec in specs:
        typer.echo(f"declared {config.topology.queue(spec.name)} (+ retry queues and .dlq)")
    for note in notes:
        err.print(f"[yellow]skipped[/] {note}")


@dev_app.command("init", epilog="Example: tocsin dev init var")
@cli_errors
def dev_init(
    directory: Annotated[Path, typer.Argument(help="Folder of dev.env (created if missing).")],
) -> None:
    """Create <directory>/dev.env with random JWT_SECRET and UNSUBSCRIBE_SECRET unless it
    exists (git-ignored; the CLI reads it from any terminal), and print its path."""
    typer.echo(str(devenv.ensure_dev_env(directory)))


@gateway_app.command(
    "render",
    epilog="Example: tocsin gateway render --listen 127.0.0.1:8000 --run-dir var/gateway "
    "--upstream notification=127.0.0.1:8010 --upstream realtime=127.0.0.1:8011 ...",
)
@cli_errors
def gateway_render(
    listen: Annotated[str, typer.Option(help="nginx `listen` value, e.g. 127.0.0.1:8000.")],
    run_dir: Annotated[Path, typer.Option(help="Writable folder for pid and temp files.")],
    upstream: Annotated[
        list[str], typer.Option(help="name=host:port (repeatable; repeat a name to balance).")
    ],
    out: Annotated[Path, typer.Option(help="Where to write the rendered nginx.conf.")],
) -> None:
    """Render infra/nginx/tocsin.conf.template with these addresses."""
    upstreams: dict[str, list[str]] = {}
    for item in upstream:
        name, _, address = item.partition("=")
        upstreams.setdefault(name.strip(), []).append(address.strip())
    values = {
        "GATEWAY_LISTEN": listen,
        "GATEWAY_RUN_DIR": str(run_dir.resolve()),
        **gateway.upstream_values(upstreams),
    }
    try:
        out.write_text(gateway.render(gateway.TEMPLATE.read_text(), values))
    except gateway.MissingGatewayValue as exc:
        raise CliError(f"{exc}: give --upstream NAME=host:port for each") from None
    typer.echo(str(out))
@topology_app.command(
    "users",
    epilog="Examples: tocsin topology users > broker-users.sh; "
    "tocsin topology users --apply http://rabbitmq:15672",
)
@cli_errors
def topology_users(
    apply: Annotated[
        str | None,
        typer.Option(
            "--apply",
            metavar="MANAGEMENT_URL",
            help="Apply through this RabbitMQ management API (as AMQP_URL's user) instead of "
            "printing; every TOCSIN_AMQP_PASSWORD_<SERVICE> must be set.",
        ),
    ] = None,
    vhost: Annotated[str, typer.Option(help="Virtual host.")] = "/",
) -> None:
    """One least-privilege RabbitMQ user per service (see infra/README.md); prints the
    rabbitmqctl script (passwords as environment references) or applies it."""
    config = settings()
    if apply is None:
        typer.echo(broker_users.users_script(config, vhost), nl=False)
        return
    for name in broker_users.apply_over_http(config, apply, vhost):
        typer.echo(f"user {name}: permissions set")
    typer.echo("user guest: deleted")


if __name__ == "__main__":
    app()


@relay_app.command("partitions", epilog="Example: tocsin relay partitions 4")
@cli_errors
def relay_partitions(
    count: Annotated[
        int | None, typer.Argument(help="The new number of partitions; omit to show it.")
    ] = None,
) -> None:
    """Show or change how many relay partitions the event store is published with.

    A change is refused while any relay runs or any event waits to be published; afterwards
    start the relays with RELAY_PARTITIONS set to the new number."""
    typer.echo(run_async(admin.relay_partitions(settings(), count)))
