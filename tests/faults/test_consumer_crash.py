"""Kill -9 the email consumer and the webhook service in the middle of their deliveries, start
them again: every accepted notification is emailed and posted; a send cut by the kill may
arrive twice (an SMTP send or an HTTP POST cannot be made atomic with our bookkeeping), and
then with the same idempotency key: `Message-ID` for email, `webhook-id` for webhooks, as both
READMEs say."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable

from tests.support.burst import Burst, email_ids, webhook_ids
from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually


async def test_consumers_killed_mid_delivery_complete_it_and_duplicates_share_their_key(
    start_system: Callable[..., System],
) -> None:
    system = start_system()
    system.smtp.delay_s = 0.05  # keep sends in flight when the kill lands
    people = [new_user("consumer") for _ in range(5)]
    for user in people:
        system.subscribe(user)
        system.register_webhook(user)
    burst = Burst(system.api_url, people, total=200, concurrency=8)
    running = asyncio.create_task(burst.run())
    await eventually(
        lambda: (len(email_ids(system)), len(webhook_ids(system))),
        lambda seen: min(seen) >= 40,
        timeout=120,
        what="deliveries under way",
    )
    system.kill("email")
    system.kill("webhook")
    cut_at = (len(email_ids(system)), len(webhook_ids(system)))
    await asyncio.wait_for(running, timeout=300)
    assert min(cut_at) < len(burst.accepted), "the kill landed after every delivery"
    await asyncio.to_thread(system.start_service, "email")
    await asyncio.to_thread(system.start_service, "webhook")

    expected = set(burst.accepted)
    await eventually(
        lambda: set(email_ids(system)), lambda got: got >= expected, timeout=180, what="emails"
    )
    await eventually(
        lambda: set(webhook_ids(system)), lambda got: got >= expected, timeout=180, what="hooks"
    )
    assert set(email_ids(system)) == expected
    assert set(webhook_ids(system)) == expected

    message_ids: dict[str, set[str]] = defaultdict(set)
    for received in system.smtp.messages():
        message_ids[received.header("X-Tocsin-Notification-Id")].add(received.message_id)
    assert all(len(ids) == 1 for ids in message_ids.values()), "a duplicate with a new Message-ID"

    hook_ids: dict[str, set[str]] = defaultdict(set)
    for hook in system.receiver.received:
        if hook.verified and hook.payload.get("type") == "notification.created":
            hook_ids[hook.payload["data"]["data"]["notification"]["id"]].add(hook.webhook_id)
    assert all(len(ids) == 1 for ids in hook_ids.values()), "a duplicate with a new webhook-id"
