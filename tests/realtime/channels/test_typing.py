"""Typing indicators: relayed across instances to the channel's other subscribers, throttled,
never echoed to the typist's own sockets, refused from non-subscribers."""

from __future__ import annotations

from typing import Any

from identity.channel_tokens import mint_channel_token
from tests.realtime.channels.helpers import round_trip, subscribe
from tests.realtime.sockets import Tab
from tests.support.realtime_service import JWT, StartRealtime, token
from tests.support.users import new_user

CHANNEL = "doc:runbook-12"


def typing(tab: Tab) -> list[dict[str, Any]]:
    return [m["data"] for m in tab.messages if m["event"] == "typing"]


async def _joined(url: str, user: str) -> Tab:
    tab = await Tab.open(url)
    await tab.established()
    answer = await subscribe(tab, CHANNEL, token=mint_channel_token(JWT, user, CHANNEL))
    assert answer["event"] == "subscribed"
    return tab


async def test_typing_is_relayed_across_instances_throttled_and_not_echoed(
    start_realtime: StartRealtime,
) -> None:
    first, second = start_realtime(), start_realtime()
    typist, reader, neighbour = new_user(), new_user(), new_user()
    typist_tab = await _joined(first.url(token(typist)), typist)
    typist_other_tab = await _joined(second.url(token(typist)), typist)
    reader_tab = await _joined(second.url(token(reader)), reader)
    neighbour_tab = await _joined(first.url(token(neighbour)), neighbour)

    await typist_tab.send({"type": "typing", "channel": CHANNEL})
    await typist_tab.send({"type": "typing", "channel": CHANNEL})  # within 2 s: not relayed
    await typist_tab.send({"type": "typing", "channel": CHANNEL, "state": "stop"})
    expected = [
        {"user_id": typist, "channel": CHANNEL, "state": "start"},
        {"user_id": typist, "channel": CHANNEL, "state": "stop"},
    ]
    for tab in (reader_tab, neighbour_tab):
        await tab.wait_for("start and stop", lambda _, t=tab: len(typing(t)) >= 2)
    # The stop went out after both starts on one ordered path: a relayed second start would be
    # between them.
    await round_trip(reader_tab)
    assert typing(reader_tab) == expected
    assert typing(neighbour_tab) == expected

    await reader_tab.send({"type": "typing", "channel": CHANNEL})
    await typist_tab.wait_for("reader typing", lambda _: len(typing(typist_tab)) >= 1)
    await typist_other_tab.wait_for("reader typing", lambda _: len(typing(typist_other_tab)) >= 1)
    await round_trip(reader_tab)
    await round_trip(typist_other_tab)
    # Nobody sees their own typing, on any of their sockets.
    assert [t["user_id"] for t in typing(typist_tab)] == [reader]
    assert [t["user_id"] for t in typing(typist_other_tab)] == [reader]
    assert [t["user_id"] for t in typing(reader_tab)] == [typist, typist]
    for tab in (typist_tab, typist_other_tab, reader_tab, neighbour_tab):
        await tab.close()


async def test_after_unsubscribing_a_socket_gets_no_typing_and_may_not_send_it(
    start_realtime: StartRealtime,
) -> None:
    realtime = start_realtime()
    typist, leaver, stayer = new_user(), new_user(), new_user()
    typist_tab = await _joined(realtime.url(token(typist)), typist)
    leaver_tab = await _joined(realtime.url(token(leaver)), leaver)
    stayer_tab = await _joined(realtime.url(token(stayer)), stayer)
    await leaver_tab.send({"type": "unsubscribe", "channel": CHANNEL})
    await leaver_tab.wait_for("unsubscribed", lambda _: bool(leaver_tab.events("unsubscribed")))
    await typist_tab.send({"type": "typing", "channel": CHANNEL})
    await stayer_tab.wait_for("typing", lambda _: len(typing(stayer_tab)) >= 1)
    await leaver_tab.send({"type": "typing", "channel": CHANNEL})
    await leaver_tab.wait_for("error", lambda _: bool(leaver_tab.events("error")))
    assert leaver_tab.events("error")[0]["data"]["code"] == "not_subscribed"
    await round_trip(stayer_tab)
    assert typing(leaver_tab) == []
    assert [t["user_id"] for t in typing(stayer_tab)] == [typist]
    for tab in (typist_tab, leaver_tab, stayer_tab):
        await tab.close()
