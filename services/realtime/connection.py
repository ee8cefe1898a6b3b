"""One WebSocket: an ordered, bounded outbound buffer drained by a writer task started on demand.

Sending never blocks the caller. When nothing is queued and the transport takes data, the
pre-encoded frame is written at once (see `transport.py`); otherwise `push` appends to the
buffer and, if no writer is running, starts one; the writer exits when the buffer is empty, so
an idle socket costs no task. A
client that does not read lets its buffer fill up; the push that overflows it closes the socket
with 4008 ("slow consumer") and drops what was queued, without slowing any other socket. The
client reconnects with `since` and catches up.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from contracts.websocket import CloseCode
from services.realtime.messages import Outbound
from services.realtime.transport import DirectTransport, Send, direct_transport, text_frame

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0


class Connection:
    """The server side of one socket of `user_id`.

    While `catchup` is a list, live events are parked in it instead of being sent; the
    endpoint (`SocketEndpoint._open`) sends `connection:established`, sets `catchup` back to
    None, then delivers the missed events and the parked ones.
    Afterwards every event with `seq <= last_seq` is dropped, so a client never sees a user
    event twice.
    """

    __slots__ = (
        "_closing",
        "_direct",
        "_expiry",
        "_max_buffer",
        "_queue",
        "_send",
        "_writer",
        "catchup",
        "close_code",
        "closed",
        "last_seq",
        "on_closed",
        "sent",
        "user_id",
    )

    def __init__(self, user_id: str, send: Send, max_buffer: int) -> None:
        self.user_id = user_id
        self._send = send
        self._direct: DirectTransport | None = direct_transport(send)
        self._max_buffer = max_buffer
        self._queue: deque[str] | None = None  # made on first need: an idle socket has none
        self._writer: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self.catchup: list[Outbound] | None = None
        self.last_seq = 0
        self.closed = False
        self.close_code: int | None = None
        self.sent = 0
        self.on_closed: Callable[[Connection], None] | None = None

    # -- outbound ---------------------------------------------------------------------------

    def deliver(self, outbound: Outbound) -> int:
        """Queue an event's frames unless the socket already has it; returns frames queued."""
        if self.catchup is not None:
            self.catchup.append(outbound)
            return 0
        seq = outbound.seq
        if seq is not None:
            if seq <= self.last_seq:
                return 0
            self.last_seq = seq
        queued = 0
        for text, wire in zip(outbound.frames, outbound.wire, strict=True):
            if not self.push(text, wire):
                break
            queued += 1
        return queued

    def push(self, text: str, wire: bytes | None = None) -> bool:
        """Send or queue one text message (`wire`: the same, already encoded as a frame).

        False when the socket is closed or just overflowed.
        """
        if self.closed:
            return False
        direct = self._direct
        if direct is not None and self._writer is None and direct.writable():
            direct.write(wire if wire is not None else text_frame(text))
            self.sent += 1
            return True
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        elif len(queue) >= self._max_buffer:
            logger.warning("slow consumer closed", extra={"user_id": self.user_id})
            self.close(CloseCode.SLOW_CONSUMER, "slow consumer")
            return False
        queue.append(text)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        return True

    async def _drain(self) -> None:
        queue = self._queue
        send = self._send
        try:
            while queue:
                await send({"type": "websocket.send", "text": queue.popleft()})
                self.sent += 1
        except Exception:  # the peer went away; the receive loop sees the disconnect
            self._queue = None
        finally:
            self._writer = None
            if not queue:
                self._queue = None

    def release_handshake(self) -> None:
        if self._direct is not None:
            self._direct.release_handshake()

    # -- closing ----------------------------------------------------------------------------

    def close(self, code: int, reason: str = "") -> None:
        """Close with `code`; queued frames are dropped. Safe to call more than once."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self._queue = None
        self.cancel_expiry()
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        self._closing = asyncio.get_running_loop().create_task(self._send_close(code, reason))
        if self.on_closed is not None:
            self.on_closed(self)

    async def _send_close(self, code: int, reason: str) -> None:
        # The close frame goes behind whatever the transport still holds, even when a client
        # that stopped reading has paused writing; if it cannot leave in time, abort.
        direct = self._direct
        if direct is not None:
            direct.force_writable()
        try:
            await asyncio.wait_for(
                self._send({"type": "websocket.close", "code": int(code), "reason": reason}),
                CLOSE_TIMEOUT_S,
            )
        except Exception:
            if direct is not None:
                direct.abort()
            return
        if direct is not None:
            asyncio.get_running_loop().call_later(CLOSE_TIMEOUT_S * 2, _abort_if_open, direct)

    def mark_disconnected(self) -> None:
        """The peer is gone: stop writing and release the socket's resources."""
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        self._queue = None
        self.cancel_expiry()
        if not self.closed:
            self.closed = True
            if self.on_closed is not None:
                self.on_closed(self)

    # -- token expiry -----------------------------------------------------------------------

    def expire_at(self, loop_time: float | None) -> None:
        """Close with 4002 at `loop_time` (event-loop clock); None cancels the timer."""
        self.cancel_expiry()
        if loop_time is not None:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_at(loop_time, self._expire)

    def cancel_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def _expire(self) -> None:
        self._expiry = None
        logger.info("token expired", extra={"user_id": self.user_id})
        self.close(CloseCode.INVALID_TOKEN, "token expired")


def _abort_if_open(direct: DirectTransport) -> None:
    if direct.is_open():
        direct.abort()
