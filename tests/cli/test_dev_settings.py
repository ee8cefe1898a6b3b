"""The local run's settings are found by the CLI from any terminal and any folder: `tocsin dev
init` creates var/dev.env with random secrets once; `tocsin token` signs with it; without it
(and without JWT_SECRET) the CLI still refuses, as in production."""

from __future__ import annotations

import stat
from pathlib import Path

from jose import jwt

from tests.support.cli import Cli, CliResult


def tocsin(*args: str, settings_dir: Path, cwd: Path) -> CliResult:
    """The CLI with none of this process's JWT_ or TOCSIN_ settings: only the local run's."""
    cli = Cli({"TOCSIN_DEV_ENV": str(settings_dir)}, drop=("JWT_", "TOCSIN_"), cwd=cwd)
    return cli.run(*args)


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name: value for name, value in pairs if not name.startswith("#")}


def test_token_in_another_terminal_is_signed_with_the_generated_dev_secret(
    tmp_path: Path,
) -> None:
    var = tmp_path / "checkout" / "var"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    created = tocsin("dev", "init", str(var), settings_dir=var, cwd=tmp_path)
    assert created.exit_code == 0, created.stderr
    dev_env = var / "dev.env"
    assert stat.S_IMODE(dev_env.stat().st_mode) == 0o600
    values = read_env(dev_env)
    assert values["TOCSIN_ENV"] == "dev"
    assert len(values["JWT_SECRET"]) >= 32 and len(values["UNSUBSCRIBE_SECRET"]) >= 32

    minted = tocsin("token", "--user", "alice", settings_dir=var, cwd=elsewhere)
    assert minted.exit_code == 0, minted.stderr
    claims = jwt.decode(minted.stdout.strip(), values["JWT_SECRET"], algorithms=["HS256"])
    assert claims["sub"] == "alice"


def test_dev_init_keeps_an_existing_file_and_each_checkout_gets_its_own_secret(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second, first):
        assert tocsin("dev", "init", str(folder), settings_dir=folder, cwd=tmp_path).exit_code == 0
    secret = read_env(first / "dev.env")["JWT_SECRET"]
    assert read_env(second / "dev.env")["JWT_SECRET"] != secret
    assert tocsin("dev", "init", str(first), settings_dir=first, cwd=tmp_path).exit_code == 0
    assert read_env(first / "dev.env")["JWT_SECRET"] == secret


def test_without_the_dev_file_or_a_secret_the_cli_still_refuses(tmp_path: Path) -> None:
    minted = tocsin("token", "--user", "alice", settings_dir=tmp_path / "none", cwd=tmp_path)
    assert minted.exit_code == 2
    assert "JWT_SECRET" in minted.stderr
