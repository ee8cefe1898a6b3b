"""A push service process killed with SIGKILL while a push waits for its delay: a new process
sends it once, and only once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.notifications import Priority
from contracts.topology import Topology
from messaging.topology import consumer_queue_names
from services.push.settings import Settings
from tests.push.servers import WebPushService
from tests.support.infra import free_port
from tests.support.processes import ServiceProcess
from tests.support.push_service import created_event, notification_id
from tests.support.users import new_user

DELAY_S = 4.0


def push_process(settings: Settings, name: str) -> ServiceProcess:
    port = free_port()
    env = {
        "DATABASE_URL": settings.database_url,
        "AMQP_URL": settings.amqp_url,
        "TOCSIN_NAMESPACE": settings.tocsin_namespace,
        "JWT_SECRET": settings.jwt_secret or "",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUSH_VAPID_PRIVATE_KEY": settings.vapid_private_key or "",
        "PUSH_ALLOWED_TARGETS": ",".join(settings.allowed_targets),
        "PUSH_DELAY_S": str(DELAY_S),
        "PUSH_TIMER_POLL_S": "0.1",
        "PUSH_RETRY_DELAYS_MS": ",".join(str(d) for d in settings.retry_delays_ms),
    }
    return ServiceProcess.python_module(
        name, "services.push", env, health_url=f"http://127.0.0.1:{port}/readyz"
    )


async def test_a_push_waiting_when_its_process_is_killed_is_sent_exactly_once(
    service_factory: Callable[..., Any],
    settings_for: Callable[..., Settings],
    web_push: WebPushService,
    topology: Topology,
    broker_cleanup: list[str],
) -> None:
    settings = settings_for()
    broker_cleanup.extend(consumer_queue_names(topology, "push", settings.retry_delays_ms))
    user = new_user()
    # The API of an in-test copy (no consumer) registers the browser and reads the rows.
    async with service_factory(consumer_enabled=False) as api:
        browser = await api.subscribe(web_push, user)
        doomed = push_process(settings, "push-doomed").start()
        try:
            event = created_event(user, priority=Priority.NORMAL)
            await api.publish(event)
            await api.wait_state(notification_id(event), "waiting")
        finally:
            doomed.kill()
        assert web_push.at(browser) == []
        survivors = [push_process(settings, f"push-survivor-{i}").start() for i in range(2)]
        try:
            await api.wait_state(notification_id(event), "sent")
            marker = created_event(user, priority=Priority.NORMAL, entity=("incident", "m"))
            await api.publish(marker)
            await api.wait_state(notification_id(marker), "sent")
        finally:
            for process in survivors:
                process.stop()
        assert sorted(p.payload["id"] for p in web_push.at(browser)) == sorted(
            [notification_id(event), notification_id(marker)]
        )
