"""Kill -9 the notification service (API + relay) in the middle of a burst, start it again:
every accepted notification reaches the socket, the SMTP server and the webhook receiver
exactly once, in per-user seq order; nothing refused appears anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.faults.burst import Burst, assert_each_accepted_delivered_once, open_tabs
from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually


async def crash_mid_burst(start_system: Callable[..., System], total: int, users: int) -> None:
    system = start_system()
    people = [new_user("crash") for _ in range(users)]
    for user in people:
        system.subscribe(user)
        system.register_webhook(user)
    tabs = await open_tabs(system, people)
    try:
        burst = Burst(system.api_url, people, total=total, concurrency=8)
        running = asyncio.create_task(burst.run())
        await eventually(
            burst.done, lambda n: n >= total // 3, timeout=120, what="a third answered"
        )
        system.kill("notification")
        killed_at = burst.done()
        await asyncio.to_thread(system.start_service, "notification")
        await asyncio.wait_for(running, timeout=300)
        assert killed_at < total, "the kill landed after the burst: nothing was in flight"
        assert burst.unanswered > 0, "no request was cut or refused by the crash"
        assert len(burst.accepted) + len(burst.refused) == total
        await assert_each_accepted_delivered_once(
            system,
            burst,
            {user: lambda t=tab: t.events("notification:new") for user, tab in tabs.items()},
        )
    finally:
        for tab in tabs.values():
            await tab.connection.close()


async def test_kill_9_notification_mid_burst_delivers_each_accepted_create_once_everywhere(
    start_system: Callable[..., System],
) -> None:
    await crash_mid_burst(start_system, total=300, users=6)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_kill_9_notification_mid_burst_of_thousands(
    start_system: Callable[..., System],
) -> None:
    await crash_mid_burst(start_system, total=3000, users=20)
