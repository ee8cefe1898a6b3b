"""The typing throttle on its own, with a clock the test moves."""

from __future__ import annotations

from contracts.channels import TypingState
from services.realtime.typing import TypingThrottle


def test_one_start_per_user_and_channel_every_two_seconds_and_a_stop_only_after_a_start() -> None:
    now = [100.0]
    throttle = TypingThrottle(2.0, clock=lambda: now[0])
    start, stop = TypingState.START, TypingState.STOP
    assert throttle.admit("ann", "doc:1", stop) is False  # nothing to stop
    assert throttle.admit("ann", "doc:1", start) is True
    now[0] += 1.9
    assert throttle.admit("ann", "doc:1", start) is False
    assert throttle.admit("bob", "doc:1", start) is True  # per user
    assert throttle.admit("ann", "doc:2", start) is True  # per channel
    now[0] += 0.1
    assert throttle.admit("ann", "doc:1", start) is True  # renewed after 2 s
    assert throttle.admit("ann", "doc:1", stop) is True
    assert throttle.admit("ann", "doc:1", stop) is False
    assert throttle.admit("ann", "doc:1", start) is True  # a stop ends the window
