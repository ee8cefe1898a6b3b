"""`tocsin push vapid-keys`: a VAPID key pair for the push service's Web Push."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from services.push.vapid import VapidSigner, generate_keys

push_app = typer.Typer(help="Push notifications (Web Push, FCM, APNs).", no_args_is_help=True)


def _key_file(path: Path) -> str:
    """The private key kept in `path`, made (owner-readable only) when the file is missing."""
    if path.exists():
        return path.read_text().strip()
    private, _ = generate_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(private + "\n")
    return private


@push_app.command(
    "vapid-keys",
    epilog="Example: tocsin push vapid-keys >> .env   (then restart the push service)",
)
def vapid_keys(
    file: Annotated[
        Path | None,
        typer.Option(help="Keep the private key in this file: read it, or create it if missing."),
    ] = None,
    private_only: Annotated[
        bool, typer.Option("--private-only", help="Print only the private key.")
    ] = False,
) -> None:
    """Print a VAPID key pair as environment lines. Keep the private key secret; changing it
    invalidates every browser subscription (browsers must subscribe again)."""
    private = _key_file(file) if file is not None else generate_keys()[0]
    if private_only:
        typer.echo(private)
        return
    public = VapidSigner.from_private_key(private, "mailto:unused@tocsin.localhost").public_key
    typer.echo(f"PUSH_VAPID_PRIVATE_KEY={private}")
    typer.echo(f"# public key (GET /api/v1/push/vapid-public-key serves it): {public}")
