"""recsys-api's use of the shared look-aside cache (:mod:`polystream_web.cache`, where the
guarantees are written down): its key prefix and TTLs, and the invalidation of a user's cached
recommendations (:meth:`LookAsideCache.invalidate_user`, called by the consumer of graph-writer's
``cache.invalidations`` topic)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Final

from pydantic import Field, PositiveFloat
from redis.asyncio import Redis

from polystream_web import cache as web_cache
from polystream_web.cache import (
    BreakerState,
    CacheUnavailableError,
    CircuitBreaker,
    jittered_ttl_ms,
    redis_client,
)

SERVICE: Final = "recsys-api"
RECOMMENDATIONS: Final = "recommendations"


class CacheSettings(web_cache.CacheSettings):
    """recsys-api's cache: prefix ``recsys``, a TTL per kind of value."""

    key_prefix: str = Field(default="recsys", pattern=r"^[A-Za-z0-9._-]+$")
    ttl_s: dict[str, PositiveFloat] = Field(
        default_factory=lambda: {"recommendations": 60.0, "search": 300.0, "analytics": 30.0},
        description="TTL of each kind of value, in seconds",
    )


class LookAsideCache(web_cache.LookAsideCache):
    """The shared cache, labelled ``recsys-api`` in the metrics, with per-user invalidation."""

    def __init__(
        self,
        redis: Redis,
        settings: web_cache.CacheSettings,
        *,
        service: str = SERVICE,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(redis, settings, service=service, clock=clock, rng=rng)

    async def invalidate_user(self, *user_ids: str | int) -> None:
        """Drop users' cached recommendations (after their graph changed)."""
        await self.invalidate(RECOMMENDATIONS, *(str(user_id) for user_id in user_ids))


__all__ = [
    "RECOMMENDATIONS",
    "SERVICE",
    "BreakerState",
    "CacheSettings",
    "CacheUnavailableError",
    "CircuitBreaker",
    "LookAsideCache",
    "jittered_ttl_ms",
    "redis_client",
]
