"""`tocsin replay`: stored events go to one consumer's queue only, in position order, marked
as replayed, confirmed; what the consumer does not bind is skipped and counted.

Events are written straight into the event store at a random moment in 2001, so a replay
`--since/--until` around that moment sees this test's events only.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal

import aio_pika
import pytest

from contracts.events import EventType
from contracts.headers import FORCE_HEADER, REPLAY_HEADER
from contracts.topology import Topology
from tests.cli.eventstore import EventStore
from tests.support.cli import TOCSIN, Cli
from tests.support.queues import depth, queue_messages
from tests.support.users import new_user
from tests.support.waiting import eventually


async def test_replay_to_email_reaches_only_the_email_queue_in_order_marked_as_replayed(
    cli: Cli,
    declared: Topology,
    store: EventStore,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
) -> None:
    alice, bob = new_user("replay"), new_user("replay")
    created = [
        await store.add(EventType.NOTIFICATION_CREATED, alice, minutes=1),
        await store.add(EventType.NOTIFICATION_CREATED, bob, minutes=2),
        await store.add(EventType.NOTIFICATION_CREATED, alice, minutes=3),
    ]
    read = await store.add(EventType.NOTIFICATION_READ, alice, minutes=4)
    too_late = await store.add(EventType.NOTIFICATION_CREATED, bob, minutes=120)
    waiting = await store.add(EventType.NOTIFICATION_CREATED, bob, minutes=5, published=False)

    result = await cli("replay", "--consumer", "email", *store.window())

    assert result.exit_code == 0, result.stderr
    assert "matched: 4" in result.stdout
    assert "published: 3" in result.stdout
    assert "skipped: 1" in result.stdout
    assert "not yet published by the relay: 1" in result.stdout
    messages = await queue_messages(amqp_connection, declared.queue("email"))
    assert [m.message_id for m in messages] == [e.event_id for e in created]
    for message in messages:
        assert (message.headers or {})[REPLAY_HEADER] is True
        assert FORCE_HEADER not in (message.headers or {})
        body = json.loads(message.body)
        assert body["type"] == "notification.created" and body["position"] is not None
    assert read.event_id not in {m.message_id for m in messages}
    assert too_late.event_id not in {m.message_id for m in messages}
    assert waiting.event_id not in {m.message_id for m in messages}
    assert await depth(amqp_connection, declared.queue("webhook")) == 0


async def test_replay_filters_by_type_user_and_position_and_force_marks_messages(
    cli: Cli,
    declared: Topology,
    store: EventStore,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
) -> None:
    alice, bob = new_user("replay"), new_user("replay")
    first = await store.add(EventType.NOTIFICATION_CREATED, alice)
    second = await store.add(EventType.NOTIFICATION_CREATED, alice)
    await store.add(EventType.NOTIFICATION_CREATED, bob)
    await store.add(EventType.NOTIFICATION_DELETED, alice)
    assert first.position is not None and second.position is not None

    result = await cli(
        "replay",
        "--consumer",
        "webhook",
        "--from-position",
        str(second.position),
        "--user",
        alice,
        "--type",
        "notification.created",
        "--force",
    )

    assert result.exit_code == 0, result.stderr
    messages = await queue_messages(amqp_connection, declared.queue("webhook"))
    assert [m.message_id for m in messages] == [second.event_id]
    assert (messages[0].headers or {})[FORCE_HEADER] is True
    assert await depth(amqp_connection, declared.queue("email")) == 0


async def test_dry_run_counts_without_publishing_and_rerun_is_safe(
    cli: Cli,
    declared: Topology,
    store: EventStore,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
) -> None:
    user = new_user("replay")
    events = [await store.add(EventType.NOTIFICATION_CREATED, user) for _ in range(3)]

    dry = await cli("replay", "--consumer", "email", "--dry-run", *store.window(before=1))
    assert dry.exit_code == 0, dry.stderr
    assert "would publish: 3" in dry.stdout
    assert await depth(amqp_connection, declared.queue("email")) == 0

    for _ in range(2):
        again = await cli("replay", "--consumer", "email", *store.window(before=1))
        assert again.exit_code == 0, again.stderr
        assert f"last position: {events[-1].position}" in again.stdout
    messages = await queue_messages(amqp_connection, declared.queue("email"))
    # Each run re-publishes the same event ids; consumers drop the repeats by event_id.
    assert [m.message_id for m in messages] == [e.event_id for e in events] * 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--consumer", "email"], "--from-position P or --since TIME"),
        (["--consumer", "email", "--since", "yesterday-ish"], "cannot read time"),
        (["--consumer", "email", "--since", "1h", "--type", "nope"], "unknown event type"),
        (["--consumer", "realtime", "--since", "1h"], "--instance"),
        (["--consumer", "notification-incidents", "--since", "1h"], "not the events exchange"),
    ],
)
async def test_replay_refuses_unclear_requests_with_one_line(
    cli: Cli, declared: Topology, args: list[str], expected: str
) -> None:
    result = await cli("replay", *args)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


async def test_replay_to_an_undeclared_queue_says_to_declare_it(
    cli: Cli, store: EventStore
) -> None:
    await store.add(EventType.NOTIFICATION_CREATED, new_user("replay"))
    result = await cli("replay", "--consumer", "email", *store.window(before=1))
    assert result.exit_code == 2
    assert "tocsin topology declare" in result.stderr


async def test_interrupted_replay_says_where_to_resume_and_resuming_completes_it(
    cli: Cli,
    declared: Topology,
    store: EventStore,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
) -> None:
    user = new_user("replay")
    count = await store.add_many(EventType.NOTIFICATION_CREATED, user, 20_000)
    process = await asyncio.create_subprocess_exec(
        TOCSIN, "replay", "--consumer", "email", *store.window(before=1),
        env={**os.environ, **cli.env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await eventually(
        lambda: depth(amqp_connection, declared.queue("email")),
        lambda n: n > 500,
        timeout=30,
        what="the replay under way",
    )
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    # 20,000 events take the replay seconds; SIGINT lands after about 500 of them.
    assert process.returncode == 130, (process.returncode, err.decode())
    resume = re.search(r"--from-position (\d+)", err.decode())
    assert resume is not None, err.decode()
    published = int(re.search(r"published: (\d+)", out.decode()).group(1))  # type: ignore[union-attr]
    assert 0 < published < count

    rest = await cli(
        "replay", "--consumer", "email", "--from-position", resume.group(1),
        *store.window(before=1),
    )  # fmt: skip
    assert rest.exit_code == 0, rest.stderr
    messages = await queue_messages(amqp_connection, declared.queue("email"))
    assert {m.message_id for m in messages} == set(store.added)


async def test_replay_to_push_reaches_only_the_push_queue_with_what_it_binds(
    cli: Cli,
    declared: Topology,
    store: EventStore,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
) -> None:
    alice = new_user("replay")
    created = await store.add(EventType.NOTIFICATION_CREATED, alice, minutes=1)
    read = await store.add(EventType.NOTIFICATION_READ, alice, minutes=2)
    unread = await store.add(EventType.NOTIFICATION_UNREAD, alice, minutes=3)

    result = await cli("replay", "--consumer", "push", *store.window())

    assert result.exit_code == 0, result.stderr
    messages = await queue_messages(amqp_connection, declared.queue("push"))
    assert [m.message_id for m in messages] == [created.event_id, read.event_id]
    assert unread.event_id not in {m.message_id for m in messages}
    assert await depth(amqp_connection, declared.queue("email")) == 0
    assert await depth(amqp_connection, declared.queue("webhook")) == 0
