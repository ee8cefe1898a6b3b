"""When a notification becomes a push.

- `critical`: at once, to every device.
- Otherwise the person's delay (by type, else by priority, else PUSH_DELAY_S, default 60 s):
  a negative delay means never. If presence says the person has no live socket, at once;
  if they are online, or presence cannot be told, when the delay has passed since creation,
  and only if the notification is still unread and not deleted by then (the read, read-all
  and delete events cancel the waiting push).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from contracts.notifications import NotificationData, Priority


@dataclass(frozen=True)
class PushPolicy:
    delay_s: float = 60.0
    delay_by_priority: dict[Priority, float] = field(default_factory=dict)
    delay_by_type: dict[str, float] = field(default_factory=dict)

    def delay_for(self, notification: NotificationData) -> float | None:
        """Seconds to wait for a read while the person is online; None: never push."""
        if notification.priority is Priority.CRITICAL:
            return 0.0
        delay = self.delay_by_type.get(
            notification.type, self.delay_by_priority.get(notification.priority, self.delay_s)
        )
        return None if delay < 0 else delay

    def due_at(
        self, notification: NotificationData, online: bool | None, now: datetime
    ) -> datetime | None:
        """When to push (`online` None: presence unknown); None: never."""
        delay = self.delay_for(notification)
        if delay is None:
            return None
        if delay == 0 or online is False:
            return now
        return max(now, notification.created_at + timedelta(seconds=delay))
