"""Whether a person has a live socket anywhere in the cluster, asked of the realtime service
through `tocsin.presence.PresenceClient` with a `presence:read` service token minted from the JWT
settings (renewed before it expires). Any failure (no REALTIME_URL, a timeout, an error
answer) is "unknown": the caller then waits its delay instead of pushing at once, so a
presence outage costs latency, never a missed or an unwanted push."""

from __future__ import annotations

import logging
import time

from identity import JwtSettings, mint_token
from identity.tokens import PRESENCE_READ_SCOPE
from tocsin.errors import TocsinError
from tocsin.presence import PresenceClient

logger = logging.getLogger(__name__)

SERVICE_NAME = "tocsin-push"
TOKEN_TTL_S = 600
RENEW_BEFORE_S = 120


class PresenceLookup:
    def __init__(self, realtime_url: str | None, jwt: JwtSettings, timeout_s: float) -> None:
        self.realtime_url = realtime_url
        self.jwt = jwt
        self.timeout_s = timeout_s
        self._client: PresenceClient | None = None
        self._renew_at = 0.0

    async def _current(self) -> PresenceClient:
        if self._client is None or time.monotonic() >= self._renew_at:
            assert self.realtime_url is not None
            if self._client is not None:
                await self._client.close()
            token = mint_token(
                self.jwt, SERVICE_NAME, scopes=[PRESENCE_READ_SCOPE], ttl_s=TOKEN_TTL_S
            )
            self._client = PresenceClient(self.realtime_url, token, timeout_s=self.timeout_s)
            self._renew_at = time.monotonic() + TOKEN_TTL_S - RENEW_BEFORE_S
        return self._client

    async def online(self, user_ids: list[str]) -> dict[str, bool] | None:
        """{user id: has a live socket}, or None when presence cannot be told."""
        if self.realtime_url is None or not user_ids:
            return None
        try:
            return await (await self._current()).users_connected(user_ids)
        except (TocsinError, ValueError) as exc:
            logger.warning("presence unknown: %s", exc)
            return None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
