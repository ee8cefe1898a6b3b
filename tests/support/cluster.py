"""A private RabbitMQ cluster: several nodes of our own (own names, ports, data folders, one
Erlang cookie), joined with `rabbitmqctl join_cluster`. The shared broker is never touched;
`stop()` stops only these nodes."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from contextlib import suppress

from tests.support.system import RABBITMQ_BIN, PrivateRabbitMq


class PrivateCluster:
    def __init__(self, size: int = 3) -> None:
        cookie = secrets.token_hex(16).upper()
        self.nodes = [PrivateRabbitMq() for _ in range(size)]
        for node in self.nodes:
            path = node.dir / ".erlang.cookie"
            path.write_text(cookie)
            path.chmod(0o400)

    @property
    def amqp_url(self) -> str:
        """Every node's address, comma-separated, as AMQP_URL takes them."""
        return ",".join(node.url for node in self.nodes)

    def start(self) -> PrivateCluster:
        first, *others = self.nodes
        for node in self.nodes:
            node.start()
        for node in others:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.node)
            node.ctl("start_app")
        return self

    def ctl_output(self, via: PrivateRabbitMq, *args: str) -> str:
        return subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", via.node, *args],
            env=via._env(), check=True, capture_output=True, text=True, timeout=90,
        ).stdout  # fmt: skip

    def running_nodes(self, via: PrivateRabbitMq) -> list[str]:
        """The node names the cluster reports running, as `via` sees them."""
        out = self.ctl_output(via, "eval", "rabbit_nodes:all_running().")
        return [n.node for n in self.nodes if n.node in out]

    def kill(self, node: PrivateRabbitMq) -> None:
        """kill -9 of one node's Erlang VM (by the PID in its own pid file)."""
        os.kill(int((node.dir / "pid").read_text().strip()), signal.SIGKILL)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            with suppress(Exception):
                node.stop()
