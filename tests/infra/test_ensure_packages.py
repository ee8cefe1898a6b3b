"""`make test` and `make run` install what they need or stop with one line: scripts/ensure-packages,
on a machine where nginx and Chromium are missing and nobody is root to install them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.processes import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "ensure-packages"


def bare_path(directory: Path, uid: int) -> str:
    """A PATH with only what the script needs besides the packages, and an `id` that answers
    `uid` (a machine where the test command is not run as root)."""
    for tool in ("bash", "cat"):
        found = shutil.which(tool)
        assert found
        (directory / tool).symlink_to(found)
    fake_id = directory / "id"
    fake_id.write_text(f"#!/bin/sh\necho {uid}\n")
    fake_id.chmod(0o755)
    return str(directory)


def run(*programs: str, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(SCRIPT), *programs],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_packages_without_root_stop_with_one_line_and_a_failure(tmp_path: Path) -> None:
    done = run("chromium", "nginx", path=bare_path(tmp_path, uid=1000))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "missing chromium nginx-light: run `sudo apt-get install chromium nginx-light` "
        "(Debian/Ubuntu), then try again"
    ]


def test_installed_packages_pass_quietly() -> None:
    path = f"{os.environ['PATH']}:/usr/sbin:/sbin"
    done = run("chromium", "nginx", path=path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
