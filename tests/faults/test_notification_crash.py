"""Kill -9 the notification service (API + relay) in the middle of a burst, start it again:
every accepted notification reaches the socket, the SMTP server and the webhook receiver
exactly once, in per-user seq order; nothing refused appears anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.faults.burst import (
    Burst,
    duplicates,
    email_ids,
    open_tabs,
    socket_ids,
    socket_seqs,
    webhook_ids,
    webhook_seqs_by_user,
)
from tests.support.system import System, unique_user
from tests.support.waiting import eventually


async def crash_mid_burst(start_system: Callable[..., System], total: int, users: int) -> None:
    system = start_system()
    people = [unique_user("crash") for _ in range(users)]
    for user in people:
        system.subscribe(user)
        system.register_webhook(user)
    tabs = await open_tabs(system, people)

    burst = Burst(system.api_url, people, total=total, concurrency=8)
    running = asyncio.create_task(burst.run())
    await eventually(lambda: burst.done(), lambda n: n >= total // 3, timeout=120,
                     what="a third of the burst answered")  # fmt: skip
    system.kill("notification")
    killed_at = burst.done()
    await asyncio.to_thread(system.start_service, "notification")
    await asyncio.wait_for(running, timeout=300)
    assert killed_at < total, "the kill landed after the burst: nothing was in flight"
    assert burst.unanswered > 0, "no request was cut or refused by the crash"

    expected = set(burst.accepted)
    assert len(expected) + len(burst.refused) == total
    for user, tab in tabs.items():
        mine = {nid for nid, owner in burst.accepted.items() if owner == user}
        await tab.wait_for(f"every accepted notification of {user} on its socket",
                           lambda _m, t=tab, n=len(mine): len(socket_ids(t)) >= n,
                           timeout=120)  # fmt: skip
        assert sorted(socket_ids(tab)) == sorted(mine), "socket: lost or extra notifications"
        seqs = socket_seqs(tab)
        assert seqs == sorted(set(seqs)), f"socket seq out of order or repeated: {seqs}"

    await eventually(lambda: set(email_ids(system)), lambda got: got >= expected, timeout=180,
                     what="every accepted notification emailed")  # fmt: skip
    await eventually(lambda: set(webhook_ids(system)), lambda got: got >= expected,
                     timeout=180, what="every accepted notification at the webhook")  # fmt: skip
    await asyncio.sleep(1.0)  # a late duplicate would arrive within the retry delays
    emails, hooks = email_ids(system), webhook_ids(system)
    assert set(emails) == expected and not duplicates(emails), duplicates(emails)
    assert set(hooks) == expected and not duplicates(hooks), duplicates(hooks)
    for user, seqs in webhook_seqs_by_user(system).items():
        assert sorted(seqs) == sorted(set(seqs)), f"webhook seqs of {user} repeated: {seqs}"

    every_title = {
        m["data"]["title"] for tab in tabs.values() for m in tab.events("notification:new")
    }
    every_title |= {r.header("Subject") for r in system.smtp.messages()}
    assert not set(burst.refused) & every_title, "a refused create was delivered"
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
