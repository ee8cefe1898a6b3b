"""The `tocsin` command: `tocsin --help` lists every command, each with an example."""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contracts.events import EventEnvelope
from identity.tokens import WRITE_SCOPE
from messaging import registry
from tocsin_cli import admin, api, dlq, replay, status, tail
from tocsin_cli.errors import EXIT_UNHEALTHY, CliError, cli_errors, run_async
from tocsin_cli.eventstore import EventFilter
from tocsin_cli.settings import CliSettings, parse_pairs
from tocsin_cli.timespec import parse_time

app = typer.Typer(
    name="tocsin",
    help="Operate Tocsin: tokens, notifications, replay, dead letters, status, live events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
dlq_app = typer.Typer(help="Dead-lettered messages of one consumer.", no_args_is_help=True)
events_app = typer.Typer(help="Live events on the events exchange.", no_args_is_help=True)
topology_app = typer.Typer(help="RabbitMQ exchanges and queues.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(events_app, name="events")
app.add_typer(topology_app, name="topology")


@app.callback()
def _quiet_libraries() -> None:
    """Connection errors are reported once, by the command, not by the AMQP library's logger."""
    for name in ("aiormq", "aio_pika"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


out = Console()
err = Console(stderr=True)

ConsumerOption = Annotated[
    str,
    typer.Option(
        "--consumer",
        "-c",
        help=f"Consumer name: {', '.join(registry.CONSUMERS)}.",
    ),
]


def _settings() -> CliSettings:
    return CliSettings()


def _known_consumer(name: str) -> str:
    registry.entry(name)
    return name


# -- trying the system -------------------------------------------------------------------------


@app.command(epilog="Example: tocsin token --user alice --ttl 86400")
@cli_errors
def token(
    user: Annotated[str, typer.Option("--user", "-u", help="The token's `sub` (user id).")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", "-s", help=f"Scope to grant (repeatable), e.g. {WRITE_SCOPE}."),
    ] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
) -> None:
    """Mint a JWT with the configured JWT_SECRET (or JWT_PRIVATE_KEY) and print it."""
    typer.echo(api.token(_settings(), user, scope or [], ttl))


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
    result = api.post(_settings(), "/api/v1/notifications", body, api_url)
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
    result = api.post(_settings(), "/api/v1/announcements", body, api_url)
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
    settings = _settings()
    if create_database and run_async(admin.create_database(settings)):
        typer.echo("created database")
    for service in admin.migrate(settings):
        typer.echo(f"migrated {service}")


@topology_app.command("declare", epilog="Example: tocsin topology declare")
@cli_errors
def topology_declare() -> None:
    """Declare the exchanges and every consumer's queue, retry queues and DLQ (idempotent)."""
    settings = _settings()
    specs, notes = run_async(admin.declare_topology(settings))
    typer.echo(
        f"declared {settings.topology.events_exchange}, {settings.topology.incidents_exchange}"
    )
    for spec in specs:
        typer.echo(f"declared {settings.topology.queue(spec.name)} (+ retry queues and .dlq)")
    for note in notes:
        err.print(f"[yellow]skipped[/] {note}")


# -- operating ---------------------------------------------------------------------------------


@app.command(
    name="replay",
    epilog="Example: tocsin replay --consumer email --since 2h --type notification.created",
)
@cli_errors
def replay_command(
    consumer: ConsumerOption,
    from_position: Annotated[
        int | None, typer.Option(help="First global position to replay.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Events that occurred at or after (ISO-8601 or 2h).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Events that occurred before.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only this event type.")] = None,
    user: Annotated[str | None, typer.Option(help="Only this user's events.")] = None,
    instance: Annotated[
        str | None, typer.Option(help="Realtime instance id (with --consumer realtime).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Count what would be published.")] = False,
    force: Annotated[
        bool, typer.Option(help="Ask the consumer to re-deliver even what it delivered.")
    ] = False,
) -> None:
    """Re-publish stored events, in order, to ONE consumer's queue only (marked as replayed).

    Consumers skip what they already delivered (by event_id) unless --force. Safe to interrupt
    and run again; the summary says where to resume.
    """
    if from_position is None and since is None:
        raise CliError("say where to start: --from-position P or --since TIME")
    _known_consumer(consumer)
    where = EventFilter(
        from_position=from_position,
        since=parse_time(since),
        until=parse_time(until),
        type=replay.parse_event_type(type_),
        user=user,
    )
    summary = replay.ReplaySummary()
    try:
        run_async(
            replay.replay(
                _settings(),
                consumer,
                where,
                dry_run=dry_run,
                force=force,
                instance=instance,
                console=err,
                summary=summary,
            )
        )
    except KeyboardInterrupt:
        _print_replay(summary, dry_run)
        resume = (summary.last_position or 0) + 1
        err.print(f"interrupted: re-run with --from-position {resume} to continue")
        raise typer.Exit(130) from None
    _print_replay(summary, dry_run)


def _print_replay(summary: replay.ReplaySummary, dry_run: bool) -> None:
    for note in summary.notes:
        err.print(f"[yellow]note[/] {note}")
    verb = "would publish" if dry_run else "published"
    typer.echo(f"matched: {summary.matched}")
    typer.echo(f"{verb}: {summary.published}")
    typer.echo(f"skipped: {summary.skipped} (not bound by this consumer)")
    if summary.pending:
        typer.echo(f"not yet published by the relay: {summary.pending} (it will deliver them)")
    if summary.last_position is not None:
        typer.echo(f"last position: {summary.last_position}")


@dlq_app.command("list", epilog="Example: tocsin dlq list --consumer email")
@cli_errors
def dlq_list(
    consumer: ConsumerOption,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 100,
) -> None:
    """List dead letters with their reason and attempt count (nothing is removed)."""
    letters = run_async(dlq.list_dead_letters(_settings(), _known_consumer(consumer), limit))
    table = Table("event id", "type", "reason", "attempts", "detail", title=f"{consumer} DLQ")
    for letter in letters:
        table.add_row(
            letter.message_id,
            letter.type or "",
            letter.reason,
            str(letter.attempts),
            letter.detail[:60],
        )
    out.print(table)
    typer.echo(f"{len(letters)} dead letters")


@dlq_app.command("show", epilog="Example: tocsin dlq show --consumer webhook --id 3f2a...")
@cli_errors
def dlq_show(
    consumer: ConsumerOption,
    id_: Annotated[str, typer.Option("--id", help="The message's event id.")],
) -> None:
    """Show one dead letter: headers, reason, attempts and body."""
    letters = run_async(dlq.list_dead_letters(_settings(), _known_consumer(consumer)))
    found = next((x for x in letters if x.message_id == id_), None)
    if found is None:
        raise CliError(f"no dead letter with id {id_} in {consumer}'s DLQ")
    typer.echo(f"id: {found.message_id}\ntype: {found.type}\nreason: {found.reason}")
    typer.echo(f"detail: {found.detail}\nattempts: {found.attempts}\ntimestamp: {found.timestamp}")
    typer.echo("headers: " + json.dumps(found.headers, default=str, sort_keys=True))
    typer.echo(found.body_text)


@dlq_app.command("requeue", epilog="Example: tocsin dlq requeue --consumer email --all")
@cli_errors
def dlq_requeue(
    consumer: ConsumerOption,
    id_: Annotated[list[str] | None, typer.Option("--id", help="Event id (repeatable).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
) -> None:
    """Move dead letters back to the consumer's queue with the attempt count reset."""
    moved, missing = run_async(dlq.requeue(_settings(), _known_consumer(consumer), id_ or [], all_))
    typer.echo(f"requeued: {len(moved)}")
    if missing:
        raise CliError(f"not found in the DLQ: {', '.join(missing)}")


@dlq_app.command("purge", epilog="Example: tocsin dlq purge --consumer webhook --yes")
@cli_errors
def dlq_purge(
    consumer: ConsumerOption,
    id_: Annotated[list[str] | None, typer.Option("--id", help="Event id (repeatable).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter (the default).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete dead letters for good (all of them, or the chosen --id ones)."""
    _known_consumer(consumer)
    what = f"{len(id_)} chosen" if id_ and not all_ else "ALL"
    if not yes and not typer.confirm(f"Delete {what} dead letters of {consumer}?"):
        raise typer.Exit(1)
    dropped, missing = run_async(dlq.purge(_settings(), consumer, [] if all_ else (id_ or [])))
    typer.echo(f"purged: {dropped}")
    if missing:
        raise CliError(f"not found in the DLQ: {', '.join(missing)}")


@app.command(name="status", epilog="Example: tocsin status || echo unhealthy")
@cli_errors
def status_command(
    service: Annotated[
        list[str] | None,
        typer.Option(help="name=URL of a service to ask /readyz (repeatable; replaces defaults)."),
    ] = None,
    realtime: Annotated[
        list[str] | None, typer.Option(help="Realtime instance base URL (repeatable).")
    ] = None,
    max_relay_lag: Annotated[
        float | None, typer.Option(help="Seconds an event may wait for the relay.")
    ] = None,
    fail_on_dlq: Annotated[bool, typer.Option(help="Dead letters make it unhealthy.")] = False,
) -> None:
    """Queues, dead letters, relay lag, sockets and readiness; exit 1 when unhealthy."""
    settings = _settings()
    services = parse_pairs(",".join(service)) if service else settings.service_urls()
    report = run_async(
        status.collect(
            settings,
            service_urls=services,
            realtime_urls=[u.rstrip("/") for u in realtime]
            if realtime
            else settings.realtime_urls(),
            max_relay_lag_s=max_relay_lag
            if max_relay_lag is not None
            else settings.tocsin_max_relay_lag_s,
            fail_on_dlq=fail_on_dlq,
        )
    )
    _print_status(report)
    if not report.healthy:
        raise typer.Exit(EXIT_UNHEALTHY)


def _print_status(report: status.Report) -> None:
    def num(value: int | None) -> str:
        return "-" if value is None else str(value)

    queues = Table("consumer", "queue", "ready", "consumers", "dead letters", title="queues")
    for row in report.queues:
        queues.add_row(
            row.consumer, row.queue, num(row.ready), num(row.consumers), num(row.dead_letters)
        )
    out.print(queues)
    age = "-" if report.oldest_pending_s is None else f"{report.oldest_pending_s:.1f}s"
    out.print(
        f"relay: {report.pending_events} events waiting (oldest {age}), "
        f"newest published position {num(report.newest_position)}"
    )
    for url, count in report.sockets.items():
        out.print(f"realtime {url}: {num(count)} sockets")
    for name, state in report.readiness.items():
        out.print(f"service {name}: {state}")
    for warning in report.warnings:
        out.print(f"[yellow]warning[/] {warning}")
    for problem in report.problems:
        out.print(f"[red]unhealthy[/] {problem}")
    out.print("[green]healthy[/]" if report.healthy else "[red]UNHEALTHY[/]")


@events_app.command("tail", epilog="Example: tocsin events tail --type notification.created")
@cli_errors
def events_tail(
    type_: Annotated[str | None, typer.Option("--type", help="Only this event type.")] = None,
    user: Annotated[str | None, typer.Option(help="Only this user's events.")] = None,
    count: Annotated[int | None, typer.Option(help="Stop after this many events.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON envelope per line.")] = False,
) -> None:
    """Follow live events (a temporary queue bound to the events exchange) until Ctrl-C."""

    def show(envelope: EventEnvelope, headers: dict[str, object]) -> None:
        if as_json:
            typer.echo(envelope.model_dump_json())
        else:
            seq = f" seq={envelope.seq}" if envelope.seq is not None else ""
            flag = " (replay)" if headers.get("x-tocsin-replay") else ""
            typer.echo(
                f"{envelope.occurred_at.isoformat()} {envelope.type} user={envelope.user_id}"
                f"{seq} event={envelope.event_id}{flag}"
            )
        sys.stdout.flush()

    def ready() -> None:
        err.print("following events (Ctrl-C to stop)")

    try:
        run_async(
            tail.tail(
                _settings(),
                show,
                event_type=replay.parse_event_type(type_),
                user=user,
                count=count,
                ready=ready,
            )
        )
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


if __name__ == "__main__":
    app()
