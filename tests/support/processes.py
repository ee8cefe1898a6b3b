"""Real service processes for tests: started, waited for, stopped or killed by their PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """One process of ours. `stop()` sends SIGTERM and waits; `kill()` sends SIGKILL.

    Only the PID this object started is ever signalled.
    """

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str],
        health_url: str | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.env = {"TOCSIN_ENV": "test", **os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.health_url = health_url
        self.log_path = (log_dir or REPO_ROOT / "test-artifacts" / "logs") / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def python_module(
        cls, name: str, module: str, env: Mapping[str, str], health_url: str | None = None
    ) -> ServiceProcess:
        return cls(name, [sys.executable, "-m", module], env, health_url)

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child process
        self.process = subprocess.Popen(
            self.args, env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        if self.health_url:
            self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        assert self.health_url
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                response = httpx.get(self.health_url, timeout=1.0)
                if response.status_code == 200:
                    return
                last = response.status_code
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.name} not healthy after {timeout}s (last: {last}); see {self.log_path}"
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait; SIGKILL if it does not exit in time. Returns the exit code."""
        if not self.running():
            return self.process.returncode if self.process else None
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout)

    def kill(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.kill()
            self.process.wait(10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
