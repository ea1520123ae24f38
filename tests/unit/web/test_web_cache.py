"""The shared look-aside cache on an in-memory stand-in for the Redis client (no network):
single-flight, hits, jittered TTLs, fallback when Redis fails, invalidation."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from polystream_web.cache import (
    BreakerState,
    CacheSettings,
    CacheUnavailableError,
    LookAsideCache,
    jittered_ttl_ms,
)


class MemoryRedis:
    """The four commands the cache uses; ``failing`` makes every one raise."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.ttls: dict[str, int] = {}
        self.failing = False

    def _check(self) -> None:
        if self.failing:
            raise RedisConnectionError("down")

    async def get(self, key: str) -> bytes | None:
        self._check()
        return self.values.get(key)

    async def set(self, key: str, value: bytes | str, px: int) -> None:
        self._check()
        self.values[key] = value if isinstance(value, bytes) else value.encode()
        self.ttls[key] = px

    async def delete(self, *keys: str) -> None:
        self._check()
        for key in keys:
            self.values.pop(key, None)

    async def ping(self) -> None:
        self._check()

    async def aclose(self) -> None:
        return None


def make_cache(redis: MemoryRedis, **settings: Any) -> LookAsideCache:
    return LookAsideCache(
        redis,  # type: ignore[arg-type]
        CacheSettings(key_prefix="t", ttl_s={"k": 10.0}, **settings),
        service="unit",
        rng=random.Random(1),
    )


async def test_fifty_concurrent_misses_compute_once_then_hit() -> None:
    redis = MemoryRedis()
    cache = make_cache(redis)
    calls = 0

    async def compute() -> dict[str, int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return {"v": 1}

    values = await asyncio.gather(*(cache.get_or_compute("k", "a", compute) for _ in range(50)))
    assert values == [{"v": 1}] * 50 and calls == 1
    assert await cache.get_or_compute("k", "a", compute) == {"v": 1} and calls == 1
    assert 9_000 <= redis.ttls["t:k:a"] <= 11_000


async def test_redis_down_computes_and_opens_the_breaker_and_invalidate_raises() -> None:
    redis = MemoryRedis()
    redis.failing = True
    cache = make_cache(redis, breaker_threshold=2)

    async def compute() -> int:
        return 7

    assert [await cache.get_or_compute("k", str(i), compute) for i in range(3)] == [7, 7, 7]
    assert cache.breaker.state is BreakerState.OPEN
    with pytest.raises(CacheUnavailableError):
        await cache.invalidate("k", "a")


async def test_invalidate_deletes_by_kind_and_key() -> None:
    redis = MemoryRedis()
    cache = make_cache(redis)
    await cache.get_or_compute("k", "a", lambda: asyncio.sleep(0, result=1))
    await cache.get_or_compute("k", "b", lambda: asyncio.sleep(0, result=2))
    await cache.invalidate("k", "a")
    assert set(redis.values) == {"t:k:b"}
    await cache.get_or_compute("j", "a", lambda: asyncio.sleep(0, result=3))
    await cache.invalidate_many([("k", "b"), ("j", "a")])
    assert redis.values == {}


def test_jitter_stays_within_the_fraction() -> None:
    rng = random.Random(3)
    spread = {jittered_ttl_ms(10.0, 0.1, rng) for _ in range(200)}
    assert min(spread) >= 9_000 and max(spread) <= 11_000 and len(spread) > 50


def test_settings_default_to_a_neutral_prefix_and_ttl() -> None:
    settings = CacheSettings()
    assert settings.key_prefix == "cache" and settings.ttl_for("anything") == 60.0
