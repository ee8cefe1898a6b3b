"""What a client may send, token expiry and refresh, and clients that stop reading."""

from __future__ import annotations

import aio_pika

from contracts.realtime import REALTIME_PUSH, RealtimePush
from contracts.topology import Topology, routing_key
from tests.realtime.sockets import Tab, close_code_after_reading_everything, stalled_socket
from tests.support.realtime_service import StartRealtime, token
from tests.support.users import new_user
from tests.support.waiting import eventually


async def test_ping_is_answered_with_pong(start_realtime: StartRealtime) -> None:
    realtime = start_realtime()
    tab = await Tab.open(realtime.url(token(new_user())))
    await tab.established()
    await tab.send({"type": "ping"})
    await tab.wait_for("pong", lambda m: any(x["event"] == "pong" for x in m))
    await tab.close()


async def test_junk_binary_and_unknown_frames_get_an_error_and_the_socket_stays_open(
    start_realtime: StartRealtime,
) -> None:
    realtime = start_realtime()
    tab = await Tab.open(realtime.url(token(new_user())))
    await tab.established()
    for frame in ("not json", "[1, 2]", b"\x00\x01binary", {"type": "mark_read", "id": "x"}, {}):
        await tab.send(frame)
    await tab.wait_for("5 errors", lambda m: len([x for x in m if x["event"] == "error"]) == 5)
    codes = [m["data"]["code"] for m in tab.events("error")]
    assert codes == [
        "invalid_json",
        "unknown_type",
        "binary_not_supported",
        "unknown_type",
        "unknown_type",
    ]
    await tab.send({"type": "ping"})
    await tab.wait_for("pong after errors", lambda m: m[-1]["event"] == "pong")
    assert tab.close_code is None
    await tab.close()


async def test_inbound_frame_over_64_kib_closes_1009(start_realtime: StartRealtime) -> None:
    realtime = start_realtime()
    tab = await Tab.open(realtime.url(token(new_user())), max_size=None)
    await tab.established()
    await tab.send("x" * (64 * 1024))  # exactly the limit is fine
    await tab.wait_for("error for the big junk frame", lambda m: m[-1]["event"] == "error")
    await tab.send("x" * (64 * 1024 + 1))
    assert await tab.closed() == 1009


async def test_token_expiry_closes_4002(start_realtime: StartRealtime) -> None:
    realtime = start_realtime()
    tab = await Tab.open(realtime.url(token(new_user(), ttl_s=2)))
    await tab.established()
    assert await tab.closed(timeout=10) == 4002


async def test_in_band_refresh_keeps_the_socket_open_past_the_first_expiry(
    start_realtime: StartRealtime,
) -> None:
    realtime = start_realtime()
    user = new_user()
    refreshed = await Tab.open(realtime.url(token(user, ttl_s=2)))
    expiring = await Tab.open(realtime.url(token(user, ttl_s=2)))
    await refreshed.established()
    await expiring.established()
    await refreshed.send({"type": "auth", "token": token(user, ttl_s=3600)})
    assert await expiring.closed(timeout=10) == 4002
    await refreshed.send({"type": "ping"})
    await refreshed.wait_for("pong after expiry", lambda m: m[-1]["event"] == "pong")
    assert refreshed.close_code is None
    await refreshed.close()


async def test_refresh_with_another_users_token_closes_4003(start_realtime: StartRealtime) -> None:
    realtime = start_realtime()
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    await tab.send({"type": "auth", "token": "garbage"})
    await tab.wait_for("error for a bad refresh", lambda m: m[-1]["event"] == "error")
    await tab.send({"type": "auth", "token": token(new_user())})
    assert await tab.closed() == 4003


async def test_a_client_that_stops_reading_is_closed_4008_and_a_reader_keeps_receiving(
    start_realtime: StartRealtime,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    topology: Topology,
    broker_cleanup: list[str],
) -> None:
    realtime = start_realtime(OUTBOUND_BUFFER_MESSAGES="16")
    user = new_user()
    reader = await Tab.open(realtime.url(token(user)), max_size=None)
    await reader.established()
    stalled = await stalled_socket(realtime.port, token(user))

    channel = await amqp_connection.channel()
    exchange = await channel.get_exchange(topology.events_exchange)
    pushes = 300
    body = "x" * 60_000
    for i in range(pushes):
        push = RealtimePush(user_id=user, event="notification:new", data={"i": i, "body": body})
        await exchange.publish(
            aio_pika.Message(push.model_dump_json().encode(), content_type="application/json"),
            routing_key=routing_key(REALTIME_PUSH, user),
        )
    received = await reader.wait_for(
        f"{pushes} pushes at the reading tab", lambda m: len(m) == pushes + 1, timeout=60
    )
    assert [m["data"]["i"] for m in received[1:]] == list(range(pushes))
    await eventually(
        lambda: realtime.metrics().get("tocsin_realtime_slow_consumer_closes_total", 0),
        lambda n: n == 1,
        what="one slow-consumer close",
    )
    assert await close_code_after_reading_everything(stalled) == 4008
    assert reader.close_code is None
    await channel.close()
    await reader.close()
