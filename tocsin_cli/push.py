"""`tocsin push vapid-keys`: a new VAPID key pair for the push service's Web Push."""

from __future__ import annotations

import typer

from services.push.vapid import generate_keys

push_app = typer.Typer(help="Push notifications (Web Push, FCM, APNs).", no_args_is_help=True)


@push_app.command(
    "vapid-keys",
    epilog="Example: tocsin push vapid-keys >> .env   (then restart the push service)",
)
def vapid_keys() -> None:
    """Print a new VAPID key pair as environment lines. Keep the private key secret; changing
    it invalidates every browser subscription (browsers must subscribe again)."""
    private, public = generate_keys()
    typer.echo(f"PUSH_VAPID_PRIVATE_KEY={private}")
    typer.echo(f"# public key (GET /api/v1/push/vapid-public-key serves it): {public}")
