"""Operating commands: `replay`, `status` and `events tail` (registered in `main`)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from contracts.events import EventEnvelope
from database.partitions import recorded_partitions
from tocsin_cli import replay, status, tail
from tocsin_cli.connections import database
from tocsin_cli.errors import EXIT_UNHEALTHY, CliError, cli_errors, run_async
from tocsin_cli.eventstore import EventFilter
from tocsin_cli.options import ConsumerOption, err, known_consumer, out, settings
from tocsin_cli.settings import parse_pairs
from tocsin_cli.timespec import parse_time

events_app = typer.Typer(help="Live events on the events exchange.", no_args_is_help=True)


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
    partition: Annotated[
        int | None,
        typer.Option(
            help="Only this relay partition's events (positions rise within a partition)."
        ),
    ] = None,
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
    known_consumer(consumer)
    where = EventFilter(
        from_position=from_position,
        since=parse_time(since),
        until=parse_time(until),
        type=replay.parse_event_type(type_),
        user=user,
        partition=None if partition is None else run_async(_partition(partition)),
    )
    summary = replay.ReplaySummary()
    try:
        run_async(
            replay.replay(
                settings(),
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
        if summary.last_position is None:
            err.print("interrupted before any publish was confirmed: re-run the same command")
        else:
            err.print(
                "interrupted: re-run the same command with "
                f"--from-position {summary.last_position + 1} to continue"
            )
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
    config = settings()
    services = parse_pairs(",".join(service)) if service else config.service_urls()
    report = run_async(
        status.collect(
            config,
            service_urls=services,
            realtime_urls=[u.rstrip("/") for u in realtime] if realtime else config.realtime_urls(),
            max_relay_lag_s=max_relay_lag
            if max_relay_lag is not None
            else config.tocsin_max_relay_lag_s,
            fail_on_dlq=fail_on_dlq,
        )
    )
    _print_status(report)
    if not report.healthy:
        raise typer.Exit(EXIT_UNHEALTHY)


async def _partition(partition: int) -> tuple[int, int]:
    """(partition, partitions in use); CliError for a partition that does not exist."""
    async with database(settings()) as db:
        partitions = await recorded_partitions(db)
    if not 0 <= partition < partitions:
        raise CliError(
            f"no partition {partition}: the store has {partitions} (0..{partitions - 1})"
        )
    return partition, partitions


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
    if report.lane_oldest_s:
        ages = ", ".join(
            f"{lane} oldest {'-' if age is None else f'{age:.1f}s'}"
            for lane, age in report.lane_oldest_s.items()
        )
        out.print(f"relay lanes: {ages}")
    if len(report.partitions) > 1:
        lanes = Table("partition", "relay", "waiting", "oldest", title="relay partitions")
        for lane in report.partitions:
            oldest = "-" if lane.oldest_pending_s is None else f"{lane.oldest_pending_s:.1f}s"
            relay_state = "[red]no relay[/]" if lane.holder is None else f"active ({lane.holder})"
            lanes.add_row(str(lane.partition), relay_state, str(lane.pending), oldest)
        out.print(lanes)
    for url, count in report.sockets.items():
        out.print(f"realtime {url}: {num(count)} sockets")
    if report.online_users is not None:
        out.print(f"presence: {report.online_users} users online")
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
                settings(),
                show,
                event_type=replay.parse_event_type(type_),
                user=user,
                count=count,
                ready=ready,
            )
        )
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
