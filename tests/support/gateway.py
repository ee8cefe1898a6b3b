"""The real nginx gateway for tests: the one template (infra/nginx/tocsin.conf.template)
rendered with this test's upstream addresses and a free port, run by Debian's nginx.

A missing nginx fails the test with the command that installs it (`scripts/test` installs it
first), never a skip."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.support.infra import free_port
from tests.support.processes import ServiceProcess
from tocsin_cli.gateway import TEMPLATE, render, upstream_values

UPSTREAMS = ("notification", "realtime", "webhook", "push", "demo")


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        pytest.fail("nginx is not installed: run scripts/ensure-packages nginx (or make test)")
    return found


def render_local(directory: Path, port: int, upstreams: Mapping[str, Sequence[str]]) -> Path:
    """nginx.conf in `directory`, listening on 127.0.0.1:<port>, for these upstreams; a
    service the test does not run gets an address nothing listens on (its paths answer 502)."""
    every = {name: [f"127.0.0.1:{free_port()}"] for name in UPSTREAMS} | dict(upstreams)
    values = {
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "GATEWAY_RUN_DIR": str(directory),
        **upstream_values(every),
    }
    path = directory / "nginx.conf"
    path.write_text(render(TEMPLATE.read_text(), values))
    return path


class Gateway:
    """A running nginx of this test's; `origin` is http://127.0.0.1:<port>."""

    def __init__(
        self, directory: Path, upstreams: Mapping[str, Sequence[str]], port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.ws_origin = f"ws://127.0.0.1:{self.port}"
        conf = render_local(directory, self.port, upstreams)
        self.process = ServiceProcess(
            f"gateway-{self.port}",
            [nginx_binary(), "-p", str(directory), "-c", str(conf), "-e", "stderr",
             "-g", "daemon off; master_process off;"],
            {},
            health_url=f"{self.origin}/gateway/healthz",
            log_dir=directory,
        )  # fmt: skip

    def start(self) -> Gateway:
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()

    def log_text(self) -> str:
        return self.process.log_text()
