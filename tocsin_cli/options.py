"""What every command shares: the consoles, the --consumer option, settings from the
environment."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from tocsin_cli import registry
from tocsin_cli.devenv import env_files
from tocsin_cli.settings import CliSettings

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


def settings() -> CliSettings:
    """Environment variables, then the local run's files (see tocsin_cli.devenv)."""
    return CliSettings(_env_file=env_files() or None)


def known_consumer(name: str) -> str:
    """`name` when the registry knows it; raises UnknownConsumer (one line, exit 2)."""
    registry.entry(name)
    return name
