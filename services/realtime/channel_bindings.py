"""The broker bindings of the channels this instance's sockets subscribe to.

The first subscriber of a channel here binds `*.*.<channel key>` on the instance's queue before
it is told `subscribed` (its catch-up depends on it); the last one leaving unbinds it. A bind
that starts while the same channel's unbind is in flight waits for the unbind (both go on the
same broker channel, in order). After a broker reconnect the queue is new and empty of
bindings: `forget_all` drops what was known (every socket is closed then, and subscribes again).
"""

from __future__ import annotations

import asyncio
import logging

from contracts.channels import channel_binding
from services.realtime.subscription import Subscription

logger = logging.getLogger(__name__)


class ChannelBindings:
    def __init__(self, subscription: Subscription) -> None:
        self._subscription = subscription
        self._bound: dict[str, asyncio.Future[None]] = {}
        self._unbinding: dict[str, asyncio.Task[None]] = {}
        self.binds = 0
        self.unbinds = 0

    async def acquire(self, channel: str) -> None:
        """Return once this instance receives `channel`'s events; raises the broker's error."""
        unbinding = self._unbinding.get(channel)
        if unbinding is not None:
            await asyncio.shield(unbinding)
        bound = self._bound.get(channel)
        if bound is None:
            bound = asyncio.get_running_loop().create_future()
            self._bound[channel] = bound
            try:
                await self._subscription.bind_key(channel_binding(channel))
                self.binds += 1
                bound.set_result(None)
            except BaseException as exc:
                self._bound.pop(channel, None)
                bound.set_exception(exc)
                bound.exception()  # retrieved: other waiters re-raise it themselves
                raise
        await asyncio.shield(bound)

    def release(self, channel: str) -> None:
        """The channel's last subscriber here left: unbind it."""
        if self._bound.pop(channel, None) is None:
            return
        task = asyncio.get_running_loop().create_task(self._unbind(channel))
        self._unbinding[channel] = task

    async def _unbind(self, channel: str) -> None:
        try:
            await self._subscription.unbind_key(channel_binding(channel))
            self.unbinds += 1
        except Exception:
            logger.warning("unbind failed", extra={"channel": channel}, exc_info=True)
        finally:
            self._unbinding.pop(channel, None)

    def forget_all(self) -> None:
        self._bound.clear()

    def bound_channels(self) -> int:
        return len(self._bound)
