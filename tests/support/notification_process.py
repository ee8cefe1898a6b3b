"""The notification service as a real process on a test's own namespace."""

from __future__ import annotations

from contracts.topology import Topology
from tests.support.processes import ServiceProcess


def notification_process(
    database_url: str, amqp_url: str, topology: Topology, jwt_secret: str, port: int, **env: str
) -> ServiceProcess:
    """Not started yet; healthy once /readyz answers. Incident ingestion is off, the relay
    polls every 0.2 s; `env` adds or overrides variables."""
    return ServiceProcess.python_module(
        f"notification-{topology.namespace}",
        "services.notification",
        {
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "TOCSIN_NAMESPACE": topology.namespace,
            "JWT_SECRET": jwt_secret,
            "INCIDENTS_ENABLED": "false",
            "RELAY_POLL_INTERVAL_S": "0.2",
            "DB_POOL_SIZE": "5",
            **env,
        },
        health_url=f"http://127.0.0.1:{port}/readyz",
    )
