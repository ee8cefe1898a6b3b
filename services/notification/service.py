"""The service layer: one function per command or query, each one transaction.

Routes call exactly one of these and map the domain errors in `errors.py`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.links import is_safe_link
from contracts.notifications import Channel
from contracts.timestamps import rfc3339
from services.notification import idempotency, metrics, queries, store
from services.notification.batching import CreateBatcher
from services.notification.cursor import decode_cursor, encode_cursor
from services.notification.errors import InvalidEntityUrl, NotificationNotFound
from services.notification.preferences import Preference
from services.notification.records import Subscriber

__all__ = [
    "CreateNotifications",
    "Created",
    "NotificationDetail",
    "NotificationService",
    "Page",
    "Subscriber",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreateNotifications:
    """Command: notify each recipient (distinct user ids) with the same content."""

    recipients: Sequence[str]
    content: store.Content


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True)
class CreatedRef:
    id: str
    user_id: str


@dataclass(frozen=True)
class Created:
    """The outcome of a create: its moment and each recipient's new notification id."""

    created_at: datetime
    notifications: list[CreatedRef]

    @property
    def count(self) -> int:
        return len(self.notifications)

    def stored(self) -> dict[str, Any]:
        """The form an idempotency key keeps (also the HTTP body of the first answer, so
        keys recorded before this form existed still read back)."""
        return {
            "count": self.count,
            "created_at": rfc3339(self.created_at),
            "notifications": [{"id": n.id, "user_id": n.user_id} for n in self.notifications],
        }

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Created:
        return cls(
            created_at=datetime.fromisoformat(stored["created_at"]),
            notifications=[
                CreatedRef(id=n["id"], user_id=n["user_id"]) for n in stored["notifications"]
            ],
        )


CREATED_STATUS = 201
"""The status an idempotency key records with its response (the table keeps one)."""


@dataclass(frozen=True)
class NotificationDetail:
    """One notification (`NotificationData` fields) and its latest outcome per channel."""

    notification: dict[str, Any]
    deliveries: dict[str, queries.ChannelDelivery]


class _Lost(Exception):
    """A concurrent request with the same idempotency key committed first."""


def _valid_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


class NotificationService:
    def __init__(
        self,
        engine: AsyncEngine,
        cursor_key: bytes,
        on_events: Callable[[], None] = lambda: None,
        idempotency_ttl: timedelta = idempotency.DEFAULT_TTL,
        link_hosts: frozenset[str] = frozenset(),
    ) -> None:
        """`on_events` is called after every commit that appended events (wakes the relay);
        idempotency keys are honoured for `idempotency_ttl` after first use; `link_hosts` are
        the hosts an absolute `entity_url` may name (see contracts.links)."""
        self.engine = engine
        self.idempotency_ttl = idempotency_ttl
        self.link_hosts = link_hosts
        self.cursor_key = cursor_key
        self.on_events = on_events
        self.batcher = CreateBatcher(engine, on_commit=lambda: self.on_events())

    async def purge_expired_idempotency_keys(self) -> int:
        """Delete every expired idempotency key; returns how many."""
        purged = 0
        async with self.engine.connect() as connection:
            conn = await connection.execution_options(isolation_level="AUTOCOMMIT")
            while True:
                batch = await idempotency.purge_expired(conn, self.idempotency_ttl)
                purged += batch
                if batch < idempotency.PURGE_BATCH:
                    return purged

    async def close(self) -> None:
        """Stop the create batcher (requests still queued fail)."""
        await self.batcher.close()

    # ---- commands -------------------------------------------------------------------------

    async def create(
        self,
        command: CreateNotifications,
        *,
        caller: str,
        idempotency_key: str | None = None,
        request_body: dict[str, Any] | None = None,
    ) -> Created:
        """Create one notification per recipient in one transaction.

        With an idempotency key, the first outcome for (caller, key) is returned again for
        the same body; raises IdempotencyKeyReused for a different body, InvalidEntityUrl
        when the content links anywhere but a relative path or an allowed host.
        """
        url = command.content.entity_url
        if url is not None and not is_safe_link(url, self.link_hosts):
            raise InvalidEntityUrl(
                "entity_url must be a path starting with one '/' or an http(s) URL on an "
                "allowed host"
            )
        if idempotency_key is None:
            return await self._create_batched(command)
        body_hash = idempotency.request_hash(request_body or {})
        for _ in range(3):
            try:
                return await self._create_once(command, caller, idempotency_key, body_hash)
            except _Lost:
                continue
        raise RuntimeError("idempotency key contention did not settle")

    async def _create_batched(self, command: CreateNotifications) -> Created:
        """Without an idempotency key, creates from concurrent requests are group-committed."""
        now = datetime.now(UTC)
        ids = [str(uuid.uuid4()) for _ in command.recipients]
        created = await self.batcher.create(command.content, command.recipients, ids, now)
        self._log_created(created)
        return Created(
            created_at=now, notifications=[CreatedRef(id=c.id, user_id=c.user_id) for c in created]
        )

    @staticmethod
    def _log_created(created: list[store.CreatedNotification]) -> None:
        metrics.CREATED.inc(len(created))
        if logger.isEnabledFor(logging.DEBUG):
            for c in created:
                logger.debug(
                    "notification created",
                    extra={"event_id": c.event_id, "user_id": c.user_id, "notification_id": c.id},
                )

    async def _create_once(
        self,
        command: CreateNotifications,
        caller: str,
        key: str,
        body_hash: str,
    ) -> Created:
        """The create with its idempotency claim in the same statement; raises _Lost when a
        concurrent request claimed the key first."""
        content = command.content
        async with self.engine.connect() as connection:
            # Each statement is its own transaction: the write is a single statement.
            conn = await connection.execution_options(isolation_level="AUTOCOMMIT")
            stored = await idempotency.find(conn, caller, key, body_hash, self.idempotency_ttl)
            if stored is not None:
                return Created.from_stored(stored.body)
            found = await queries.recipients(conn, command.recipients, content.type)
            deliveries = [store.delivery_for(r, content) for r in found]
            now = datetime.now(UTC)
            ids = [str(uuid.uuid4()) for _ in deliveries]
            outcome = Created(
                created_at=now,
                notifications=[
                    CreatedRef(id=i, user_id=d.user_id)
                    for i, d in zip(ids, deliveries, strict=True)
                ],
            )
            claim = store.IdempotencyClaim(
                caller=caller,
                key=key,
                request_hash=body_hash,
                status_code=CREATED_STATUS,
                response=outcome.stored(),
                claimed_at=now,
            )
            created = await store.create_notifications_once(
                conn, content, deliveries, now, ids, claim
            )
            if created is None:
                raise _Lost()
        self.on_events()
        self._log_created(created)
        return outcome

    async def mark(self, user_id: str, notification_id: str, *, read: bool) -> dict[str, Any]:
        """Mark read or unread; returns the notification. Raises NotificationNotFound."""
        valid = _valid_uuid(notification_id)
        if valid is None:
            raise NotificationNotFound("no such notification")
        async with self.engine.begin() as conn:
            change = await store.set_read(conn, user_id, valid, read, datetime.now(UTC))
            if change is None:
                raise NotificationNotFound("no such notification")
            notification = await queries.get_notification(conn, user_id, valid)
        assert notification is not None
        self._log_change("notification marked", user_id, change)
        return notification

    async def read_all(self, user_id: str) -> dict[str, Any]:
        """Mark everything read; returns the stats after."""
        async with self.engine.begin() as conn:
            change = await store.read_all(conn, user_id, datetime.now(UTC))
        self._log_change("notifications read", user_id, change)
        return change.stats

    async def delete(self, user_id: str, notification_id: str) -> None:
        """Raises NotificationNotFound."""
        valid = _valid_uuid(notification_id)
        if valid is None:
            raise NotificationNotFound("no such notification")
        async with self.engine.begin() as conn:
            change = await store.delete(conn, user_id, valid, datetime.now(UTC))
        if change is None:
            raise NotificationNotFound("no such notification")
        self._log_change("notification deleted", user_id, change)

    async def set_preferences(
        self, user_id: str, preferences: Sequence[Preference]
    ) -> list[Preference]:
        """Replace all of the user's preferences; returns them as stored."""
        async with self.engine.begin() as conn:
            await store.replace_preferences(conn, user_id, preferences)
            return await queries.preferences_of(conn, user_id)

    async def disable_email(self, user_id: str, notification_type: str) -> None:
        """Turn email off for the user and type (idempotent); other preferences stay."""
        async with self.engine.begin() as conn:
            await store.disable_channel(conn, user_id, notification_type, Channel.EMAIL)

    async def upsert_subscriber(self, subscriber: Subscriber) -> None:
        """Create or replace what Tocsin knows about a person."""
        async with self.engine.begin() as conn:
            await store.upsert_subscriber(conn, subscriber, datetime.now(UTC))

    # ---- queries --------------------------------------------------------------------------

    async def get(self, user_id: str, notification_id: str) -> dict[str, Any]:
        """Raises NotificationNotFound."""
        valid = _valid_uuid(notification_id)
        if valid is not None:
            async with self.engine.connect() as conn:
                found = await queries.get_notification(conn, user_id, valid)
            if found is not None:
                return found
        raise NotificationNotFound("no such notification")

    async def detail(self, user_id: str, notification_id: str) -> NotificationDetail:
        """The notification with its delivery status; raises NotificationNotFound."""
        found = await self.get(user_id, notification_id)
        async with self.engine.connect() as conn:
            deliveries = await queries.deliveries_of(conn, user_id, found["id"])
        return NotificationDetail(notification=found, deliveries=deliveries)

    async def known_users(self) -> list[str]:
        """Every user with a notification stream or a subscriber record, in user id order."""
        async with self.engine.connect() as conn:
            return await queries.known_users(conn)

    async def page(
        self, user_id: str, filters: queries.ListFilter, cursor: str | None, limit: int
    ) -> Page:
        """Raises InvalidCursor for a cursor this service did not issue."""
        after = decode_cursor(cursor, self.cursor_key) if cursor else None
        async with self.engine.connect() as conn:
            items = await queries.list_notifications(conn, user_id, filters, after, limit)
        next_cursor = None
        if len(items) == limit:
            last = items[-1]
            next_cursor = encode_cursor(last["created_at"], last["id"], self.cursor_key)
        return Page(items=items, next_cursor=next_cursor)

    async def stats(self, user_id: str) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            return await queries.stats(conn, user_id)

    async def preferences(self, user_id: str) -> list[Preference]:
        async with self.engine.connect() as conn:
            return await queries.preferences_of(conn, user_id)

    async def events_after(
        self, user_id: str, after_seq: int, limit: int
    ) -> tuple[list[dict[str, Any]], int, bool]:
        # One snapshot for the page and the latest seq: under READ COMMITTED an event committed
        # between the two statements would count in `latest_seq` but miss the page, and the
        # realtime service, trusting the pair, would drop that event's live copy.
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="REPEATABLE READ")
            return await queries.events_after(conn, user_id, after_seq, limit)

    async def latest_seqs(self, user_ids: Sequence[str]) -> dict[str, int]:
        async with self.engine.connect() as conn:
            return await queries.latest_seqs(conn, user_ids)

    def _log_change(self, what: str, user_id: str, change: store.Change) -> None:
        if change.event_id is not None:
            self.on_events()
        logger.info(what, extra={"event_id": change.event_id, "user_id": user_id})
