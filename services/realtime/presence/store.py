"""The presence store: Redis, shared by every realtime instance (layout in contracts.presence).

Every call is one round trip (one atomic script). A call raises `PresenceUnavailable` when Redis
cannot be reached or answers with an error; the caller decides what that means (the tracker
retries and resends its full state, a REST read answers 503).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from contracts.presence import PresenceKeys
from services.realtime.presence import scripts


class PresenceUnavailable(Exception):
    """The presence store did not answer (down, restarting, or an error reply)."""


@dataclass(frozen=True)
class Membership:
    channel: str
    user_id: str

    def encoded(self) -> str:
        return f"{self.channel}\n{self.user_id}"

    @classmethod
    def decoded(cls, raw: bytes | str) -> Membership:
        text = raw.decode() if isinstance(raw, bytes) else raw
        channel, _, user_id = text.partition("\n")
        return cls(channel, user_id)


@dataclass
class Delta:
    """Changes of one instance's state: users that came online / went offline here, channel
    memberships that started / ended here."""

    users_online: list[str] = field(default_factory=list)
    users_offline: list[str] = field(default_factory=list)
    joined: list[Membership] = field(default_factory=list)
    left: list[Membership] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.users_online or self.users_offline or self.joined or self.left)


@dataclass(frozen=True)
class SyncResult:
    accepted: bool
    """False when a delta was refused: the store does not know the instance (it restarted, or
    the instance was swept as dead); the instance must send its full state."""
    online_count: int
    joined: list[Membership]
    """Memberships that made a user appear in a channel cluster-wide (their first instance)."""
    left: list[Membership]
    """Memberships that made a user disappear from a channel cluster-wide, including those of
    dead instances swept by this call."""


class PresenceStore:
    def __init__(self, client: redis.Redis, keys: PresenceKeys, dead_after_s: float) -> None:
        self.client = client
        self.keys = keys
        self.dead_after_ms = int(dead_after_s * 1000)
        self.key_ttl_s = max(60, int(dead_after_s * 6))
        self._sync = client.register_script(scripts.SYNC)
        self._remove = client.register_script(scripts.REMOVE_INSTANCE)
        self._users_online = client.register_script(scripts.USERS_ONLINE)
        self._online_users = client.register_script(scripts.ONLINE_USERS)
        self._channel_members = client.register_script(scripts.CHANNEL_MEMBERS)

    @classmethod
    def from_url(cls, url: str, keys: PresenceKeys, dead_after_s: float) -> PresenceStore:
        client = redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=10
        )
        return cls(client, keys, dead_after_s)

    async def close(self) -> None:
        await self.client.aclose()

    async def _run(self, script: Any, args: Sequence[object]) -> Any:
        try:
            return await script(keys=[], args=[self.keys.prefix, *args])
        except (RedisError, OSError) as exc:
            raise PresenceUnavailable(str(exc) or type(exc).__name__) from exc

    async def sync(self, instance_id: str, delta: Delta, *, full: bool = False) -> SyncResult:
        """Apply `delta` for `instance_id` and renew its heartbeat (an empty delta is a plain
        heartbeat). With `full`, `delta.users_online` and `delta.joined` are the instance's
        whole state and replace what the store holds for it."""
        lists = (
            delta.users_online,
            delta.users_offline,
            [m.encoded() for m in delta.joined],
            [m.encoded() for m in delta.left],
        )
        args: list[object] = [
            instance_id,
            self.dead_after_ms,
            "full" if full else "delta",
            self.key_ttl_s,
            *(len(items) for items in lists),
        ]
        for items in lists:
            args.extend(items)
        status, count, joined, left = await self._run(self._sync, args)
        return SyncResult(bool(status), int(count), _memberships(joined), _memberships(left))

    async def remove_instance(self, instance_id: str) -> list[Membership]:
        """Forget an instance that is leaving; returns the channel memberships that ended."""
        return _memberships(await self._run(self._remove, [instance_id]))

    async def users_online(
        self, user_ids: Sequence[str]
    ) -> tuple[dict[str, bool], list[Membership]]:
        """Whether each user has a socket on a live instance (and what the sweep ended)."""
        left, counts = await self._run(self._users_online, [self.dead_after_ms, *user_ids])
        answer = {u: c is not None and int(c) > 0 for u, c in zip(user_ids, counts, strict=True)}
        return answer, _memberships(left)

    async def online_users(self) -> tuple[list[str], list[Membership]]:
        left, users = await self._run(self._online_users, [self.dead_after_ms])
        return sorted(_text(u) for u in users), _memberships(left)

    async def channel_members(self, channel: str) -> tuple[list[str], list[Membership]]:
        left, users = await self._run(self._channel_members, [self.dead_after_ms, channel])
        return sorted(_text(u) for u in users), _memberships(left)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _memberships(raw: Iterable[bytes | str]) -> list[Membership]:
    return [Membership.decoded(m) for m in raw]
