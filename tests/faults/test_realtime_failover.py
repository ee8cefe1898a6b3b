"""Kill -9 one of two realtime instances while clients receive a stream of events: its clients
reconnect to the other instance with `since` and, across both connections, see every event
once, in seq order, with no gap."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.support.burst import Burst, Follower
from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually


async def test_clients_of_a_killed_realtime_instance_resume_on_the_other_without_gap(
    start_system: Callable[..., System],
) -> None:
    system = start_system(realtime_instances=2, email_enabled=False, webhook_enabled=False)
    people = [new_user("failover") for _ in range(8)]
    # Half the users start on instance 0 (the one that dies), half on instance 1; each client
    # moves to the other URL when its socket closes.
    urls = [system.ws_url(0), system.ws_url(1)]
    followers = [
        await Follower(urls if i % 2 == 0 else urls[::-1], user).start()
        for i, user in enumerate(people)
    ]
    try:
        burst = Burst(system.api_url, people, total=400, concurrency=4)
        running = asyncio.create_task(burst.run())
        await eventually(burst.done, lambda n: n >= 120, timeout=120, what="120 creates")
        system.kill("realtime-0")
        await asyncio.wait_for(running, timeout=300)
        assert not burst.refused, burst.refused

        for follower in followers:
            mine = {nid for nid, owner in burst.accepted.items() if owner == follower.user}
            await eventually(
                lambda f=follower: set(f.ids()),  # type: ignore[misc]
                lambda got, m=mine: got >= m,  # type: ignore[misc]
                timeout=120,
                what=f"every notification of {follower.user} across its connections",
            )
        await asyncio.sleep(0.5)
        for i, follower in enumerate(followers):
            mine = sorted(nid for nid, owner in burst.accepted.items() if owner == follower.user)
            assert sorted(follower.ids()) == mine, "a gap or a duplicate across the failover"
            seqs = follower.seqs()
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"seq gap: {seqs}"
            if i % 2 == 0:
                assert follower.connections >= 2, "a client of the killed instance never moved"
                assert all(h.get("recovered", True) for h in follower.handshakes[1:])
    finally:
        for follower in followers:
            await follower.stop()
