"""Failures the operator can act on, shown as one line on stderr with exit code 2."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit

import typer

from tocsin_cli.registry import ConsumerNotInstalled, UnknownConsumer

EXIT_UNHEALTHY = 1
EXIT_USAGE = 2

P = ParamSpec("P")
T = TypeVar("T")


class CliError(Exception):
    """A problem with a one-line, actionable explanation."""


def redact(url: str) -> str:
    """The URL without its password, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def fail(message: str) -> typer.Exit:
    typer.echo(f"tocsin: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; known failures become one line on stderr and exit 2."""
    try:
        return asyncio.run(coroutine)
    except (CliError, UnknownConsumer, ConsumerNotInstalled) as exc:
        raise fail(str(exc).strip("'\"")) from None


def cli_errors(function: Callable[P, T]) -> Callable[P, T]:
    """Decorator for synchronous commands: CliError → one line on stderr, exit 2."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except (CliError, UnknownConsumer, ConsumerNotInstalled) as exc:
            raise fail(str(exc).strip("'\"")) from None

    return wrapper


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
