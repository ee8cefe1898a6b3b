"""The local run's settings files, found from any terminal.

`scripts/run` creates `var/dev.env` once per checkout (random `JWT_SECRET` and
`UNSUBSCRIBE_SECRET`, `TOCSIN_ENV=dev`; git-ignored, mode 0600) and rewrites `var/run.env` at
every start with the addresses it serves on. The CLI reads both when they exist, below real
environment variables; outside a checkout (a container, a production host) neither exists and
nothing changes: a missing secret is still an error. `TOCSIN_DEV_ENV` names another folder.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

CHECKOUT_VAR = Path(__file__).resolve().parents[1] / "var"
DEV_ENV = "dev.env"
RUN_ENV = "run.env"
GENERATED_SECRETS = ("JWT_SECRET", "UNSUBSCRIBE_SECRET")


def settings_dir() -> Path:
    return Path(os.environ.get("TOCSIN_DEV_ENV") or CHECKOUT_VAR)


def env_files(directory: Path | None = None) -> tuple[Path, ...]:
    """The files to read, lowest precedence first (run.env's addresses, then dev.env)."""
    folder = directory or settings_dir()
    return tuple(p for p in (folder / RUN_ENV, folder / DEV_ENV) if p.is_file())


def ensure_dev_env(directory: Path) -> Path:
    """Create `<directory>/dev.env` with fresh random secrets unless it exists; return its path.
    An existing file is kept as it is, so tokens minted earlier stay valid."""
    path = directory / DEV_ENV
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Development settings of this checkout, generated on first `make run`.",
        "# Read by the run command and by the `tocsin` CLI. Never use these values elsewhere.",
        "TOCSIN_ENV=dev",
        *(f"{name}={secrets.token_urlsafe(32)}" for name in GENERATED_SECRETS),
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write("\n".join(lines) + "\n")
    return path
