"""Databases of a test's own with every service's schema, on the Postgres the tests use."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support import infra

STATEFUL_SERVICES = ("notification", "email", "webhook", "push")


def migrate_all(database_url: str) -> None:
    """Apply the migrations of every service that owns a schema."""
    for service in STATEFUL_SERVICES:
        try:
            module = importlib.import_module(f"services.{service}.migrations")
        except ModuleNotFoundError:
            continue
        module.upgrade(database_url)


@contextmanager
def migrated_database(server_url: str, prefix: str = "tocsin_test") -> Iterator[str]:
    """A fresh database with every service's schema (`<prefix>_<hex>`), dropped on exit."""
    url = infra.create_database(server_url, prefix=prefix)
    try:
        migrate_all(url)
        yield url
    finally:
        infra.drop_database(url)
