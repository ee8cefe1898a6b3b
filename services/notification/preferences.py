"""Which channels a notification goes to, from a user's preferences.

A preference is (type, channel, enabled), where type `*` means every type. For each channel
the most specific preference wins: the notification's own type, then `*`, then the default
(every channel on). A `critical` notification always goes in-app, by email and by push, whatever
the user opted out of; webhooks still follow the preference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts.notifications import Channel, Priority

ANY_TYPE = "*"
DEFAULT_ENABLED: dict[Channel, bool] = {
    Channel.IN_APP: True,
    Channel.EMAIL: True,
    Channel.WEBHOOK: True,
    Channel.PUSH: True,
}
CRITICAL_FORCED: frozenset[Channel] = frozenset({Channel.IN_APP, Channel.EMAIL, Channel.PUSH})


@dataclass(frozen=True)
class Preference:
    type: str
    channel: Channel
    enabled: bool


def resolve_channels(
    notification_type: str, priority: Priority, preferences: Iterable[Preference]
) -> list[Channel]:
    """The channels, in `Channel` order, that a notification of this type and priority uses."""
    specific: dict[Channel, bool] = {}
    general: dict[Channel, bool] = {}
    for preference in preferences:
        if preference.type == notification_type:
            specific[preference.channel] = preference.enabled
        elif preference.type == ANY_TYPE:
            general[preference.channel] = preference.enabled
    channels = []
    for channel in Channel:
        enabled = specific.get(channel, general.get(channel, DEFAULT_ENABLED[channel]))
        if enabled or (priority is Priority.CRITICAL and channel in CRITICAL_FORCED):
            channels.append(channel)
    return channels
