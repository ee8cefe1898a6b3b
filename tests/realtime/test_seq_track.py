"""The hub's record of a user's latest seq, which spares sockets without since a lookup."""

from __future__ import annotations

from services.realtime.hub import Hub
from services.realtime.messages import Outbound


def _event(user_id: str, seq: int) -> Outbound:
    return Outbound(user_id, seq, ())


def test_a_live_event_that_raced_with_the_lookup_leaves_the_higher_seq() -> None:
    hub = Hub(max_per_user=5)
    track = hub.track("alice")
    hub.dispatch(_event("alice", 7))  # arrived while the store was being asked
    assert hub.record_latest("alice", track, 6) == 7
    assert track.exact
    hub.dispatch(_event("alice", 8))
    assert hub.track("alice").seq == 8


def test_a_lookup_answered_after_the_binding_was_dropped_is_not_taken_as_exact() -> None:
    hub = Hub(max_per_user=5)
    track = hub.track("bob")
    hub.forget("bob")
    assert hub.record_latest("bob", track, 4) == 4
    assert not hub.track("bob").exact


def test_losing_the_broker_connection_makes_every_recorded_seq_unknown() -> None:
    hub = Hub(max_per_user=5)
    hub.record_latest("carol", hub.track("carol"), 3)
    hub.forget_all()
    assert not hub.track("carol").exact
    assert hub.latest_seq("carol") == 0
