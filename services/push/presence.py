"""Whether a person has a live socket anywhere in the cluster, asked of the realtime service
(`contracts.presence`). Any failure (no REALTIME_URL, a timeout, an error answer) is "unknown":
the caller then waits its delay instead of pushing at once, so a presence outage costs
latency, never a missed or an unwanted push."""

from __future__ import annotations

import logging

import httpx

from contracts.presence import PRESENCE_PATH, PRESENCE_READ_SCOPE, PresenceAnswer
from identity import JwtSettings, mint_token

logger = logging.getLogger(__name__)

SERVICE_NAME = "tocsin-push"
TOKEN_TTL_S = 300


class PresenceLookup:
    def __init__(
        self, client: httpx.AsyncClient, realtime_url: str | None, jwt: JwtSettings
    ) -> None:
        self.client = client
        self.url = f"{realtime_url.rstrip('/')}{PRESENCE_PATH}" if realtime_url else None
        self.jwt = jwt

    async def online(self, user_ids: list[str]) -> dict[str, bool] | None:
        """{user id: has a live socket}, or None when presence cannot be told."""
        if self.url is None or not user_ids:
            return None
        token = mint_token(self.jwt, SERVICE_NAME, scopes=[PRESENCE_READ_SCOPE], ttl_s=TOKEN_TTL_S)
        try:
            response = await self.client.get(
                self.url,
                params={"user_ids": ",".join(user_ids)},
                headers={"authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            return PresenceAnswer.model_validate_json(response.content).users
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("presence unknown: %s", type(exc).__name__)
            return None
