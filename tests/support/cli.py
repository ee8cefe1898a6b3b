"""Running the real `tocsin` console script as an operator would, with the settings a test gives
it on top of this process's environment."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

TOCSIN = str(Path(sys.executable).parent / "tocsin")
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    """The `tocsin` command with `env` over this process's environment, less the variables whose
    names start with one of `drop`; run in `cwd` (this process's by default), 200 columns wide so
    tables do not wrap. A command still running after a minute fails the test."""

    env: Mapping[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    cwd: Path | None = None

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        inherited = {
            k: v for k, v in os.environ.items() if not (self.drop and k.startswith(self.drop))
        }
        return {**inherited, **self.env, **(extra or {}), "COLUMNS": "200"}

    async def __call__(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> CliResult:
        process = await asyncio.create_subprocess_exec(
            TOCSIN,
            *args,
            env=self.environment(env),
            cwd=self.cwd,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(
            process.communicate(input.encode() if input is not None else None), TIMEOUT_S
        )
        assert process.returncode is not None
        return CliResult(process.returncode, out.decode(), err.decode())

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> CliResult:
        """The same command, for a test that is not a coroutine."""
        done = subprocess.run(
            [TOCSIN, *args],
            env=self.environment(env),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)
