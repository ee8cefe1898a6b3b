"""Kill -9 the notification service (API + relay) in the middle of a burst, start it again:
every accepted notification reaches the socket, the SMTP server and the webhook receiver
exactly once, in per-user seq order; nothing refused appears anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.support.burst import burst_through_a_fault
from tests.support.system import System
from tests.support.users import new_user


async def crash_mid_burst(start_system: Callable[..., System], total: int, users: int) -> None:
    system = start_system()
    people = [new_user("crash") for _ in range(users)]
    async with burst_through_a_fault(system, people, total) as burst:
        system.kill("notification")
        killed_at = burst.done()
        await asyncio.to_thread(system.start_service, "notification")
    assert killed_at < total, "the kill landed after the burst: nothing was in flight"
    assert burst.unanswered > 0, "no request was cut or refused by the crash"
    assert len(burst.accepted) + len(burst.refused) == total


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
