"""`tocsin dlq list|show|requeue|purge` (the broker work is in `tocsin_cli.dlq`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from tocsin_cli import dlq
from tocsin_cli.errors import CliError, cli_errors, run_async
from tocsin_cli.options import ConsumerOption, known_consumer, out, settings

dlq_app = typer.Typer(help="Dead-lettered messages of one consumer.", no_args_is_help=True)


@dlq_app.command("list", epilog="Example: tocsin dlq list --consumer email")
@cli_errors
def dlq_list(
    consumer: ConsumerOption,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 100,
) -> None:
    """List dead letters with their reason and attempt count (nothing is removed)."""
    letters = run_async(dlq.list_dead_letters(settings(), known_consumer(consumer), limit))
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
    letters = run_async(dlq.list_dead_letters(settings(), known_consumer(consumer)))
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
    moved, missing = run_async(dlq.requeue(settings(), known_consumer(consumer), id_ or [], all_))
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
    known_consumer(consumer)
    what = f"{len(id_)} chosen" if id_ and not all_ else "ALL"
    if not yes and not typer.confirm(f"Delete {what} dead letters of {consumer}?"):
        raise typer.Exit(1)
    dropped, missing = run_async(dlq.purge(settings(), consumer, [] if all_ else (id_ or [])))
    typer.echo(f"purged: {dropped}")
    if missing:
        raise CliError(f"not found in the DLQ: {', '.join(missing)}")
