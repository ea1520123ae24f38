"""recsys-api's look-aside cache on a real Redis: hits after misses, jittered TTLs, one compute
for 50 concurrent misses, invalidation, corrupt values, and a Redis that dies and comes back.

The shared Redis of the local stack is used with a key prefix of each test's own, deleted after;
the outage test starts, kills and restarts a private ``redis-server`` and never touches the
shared one. Each test labels its metrics with a service name of its own."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY
from pydantic import SecretStr

from polystream_common.settings import RedisSettings
from recsys_api.cache import BreakerState, CacheSettings, LookAsideCache, redis_client

from .redis_fixtures import PrivateRedis

pytestmark = pytest.mark.integration


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class CountingBackend:
    """A store stand-in: counts its calls and takes a while, like a real query."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls = 0
        self.delay_s = delay_s

    def compute(self, value: Any) -> Callable[[], Any]:
        async def run() -> Any:
            self.calls += 1
            await asyncio.sleep(self.delay_s)
            return value

        return run


@pytest.fixture
def redis_url(stack: dict[str, str]) -> str:
    return f"redis://127.0.0.1:{stack['REDIS_PORT']}/0"


@pytest.fixture
def settings() -> CacheSettings:
    return CacheSettings(key_prefix=f"test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def client(redis_url: str, settings: CacheSettings) -> AsyncIterator[aioredis.Redis]:
    """A plain client on the shared Redis that deletes the test's keys after it."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    try:
        async for key in client.scan_iter(match=f"{settings.key_prefix}:*"):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture
async def cache(
    redis_url: str, settings: CacheSettings, client: aioredis.Redis
) -> AsyncIterator[LookAsideCache]:
    cache = LookAsideCache(
        redis_client(RedisSettings(url=SecretStr(redis_url)), settings),
        settings,
        service=f"test-{uuid.uuid4().hex[:8]}",
    )
    yield cache
    await cache.close()


async def test_hit_after_miss_computes_once(cache: LookAsideCache) -> None:
    backend = CountingBackend()
    first = await cache.get_or_compute("search", "shoes", backend.compute({"ids": [1, 2]}))
    second = await cache.get_or_compute("search", "shoes", backend.compute({"ids": [9]}))
    assert first == second == {"ids": [1, 2]}
    assert backend.calls == 1
    service = cache.service
    assert sample("polystream_cache_requests_total", service=service, kind="search", result="miss")
    assert sample("polystream_cache_requests_total", service=service, kind="search", result="hit")


async def test_ttl_is_set_within_jitter_bounds(
    cache: LookAsideCache, client: aioredis.Redis
) -> None:
    backend = CountingBackend()
    ttl_ms = cache.settings.ttl_for("recommendations") * 1000
    jitter = cache.settings.jitter_fraction
    for user in range(30):
        await cache.get_or_compute("recommendations", str(user), backend.compute([user]))
    ttls = [await client.pttl(cache.key("recommendations", str(user))) for user in range(30)]
    assert all(ttl_ms * (1 - jitter) - 2_000 <= ttl <= ttl_ms * (1 + jitter) for ttl in ttls)
    assert len(set(ttls)) > 10  # written together, they do not expire together


async def test_fifty_concurrent_misses_run_the_backend_once(cache: LookAsideCache) -> None:
    backend = CountingBackend(delay_s=0.1)
    results = await asyncio.gather(
        *(cache.get_or_compute("analytics", "top", backend.compute([1, 2, 3])) for _ in range(50))
    )
    assert backend.calls == 1
    assert results == [[1, 2, 3]] * 50
    requests = sample(
        "polystream_cache_requests_total", service=cache.service, kind="analytics", result="miss"
    )
    assert requests == 50


async def test_invalidate_and_invalidate_user_drop_keys(
    cache: LookAsideCache, client: aioredis.Redis
) -> None:
    backend = CountingBackend()
    await cache.get_or_compute("recommendations", "42", backend.compute(["a"]))
    await cache.get_or_compute("search", "q", backend.compute(["b"]))
    assert await client.exists(cache.key("recommendations", "42"), cache.key("search", "q")) == 2

    await cache.invalidate_user(42)
    assert not await client.exists(cache.key("recommendations", "42"))
    await cache.invalidate("search", "q")
    assert not await client.exists(cache.key("search", "q"))

    assert await cache.get_or_compute("recommendations", "42", backend.compute(["c"])) == ["c"]
    assert backend.calls == 3


async def test_corrupt_value_is_recomputed_and_overwritten(
    cache: LookAsideCache, client: aioredis.Redis
) -> None:
    await client.set(cache.key("search", "bad"), b"\xff{not json", px=60_000)
    backend = CountingBackend()
    assert await cache.get_or_compute("search", "bad", backend.compute({"ok": True})) == {
        "ok": True
    }
    assert await client.get(cache.key("search", "bad")) == b'{"ok":true}'
    assert await cache.get_or_compute("search", "bad", backend.compute({"ok": False})) == {
        "ok": True
    }
    assert backend.calls == 1


async def test_redis_down_serves_from_the_stores_then_recovers(
    private_redis: PrivateRedis,
) -> None:
    settings = CacheSettings(
        key_prefix=f"test-{uuid.uuid4().hex[:12]}",
        breaker_threshold=3,
        breaker_cooldown_s=1.0,
        socket_timeout_s=0.1,
        socket_connect_timeout_s=0.1,
    )
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    service = f"test-{uuid.uuid4().hex[:8]}"
    cache = LookAsideCache(
        redis_client(RedisSettings(url=SecretStr(url)), settings), settings, service=service
    )
    backend = CountingBackend()
    try:
        assert await cache.get_or_compute("search", "up", backend.compute(1)) == 1
        assert await cache.get_or_compute("search", "up", backend.compute(2)) == 1
        assert backend.calls == 1

        private_redis.kill()
        for i in range(10):
            started = time.monotonic()
            assert await cache.get_or_compute("search", f"down-{i}", backend.compute(i)) == i
            assert time.monotonic() - started < 1.0
        assert backend.calls == 11
        assert cache.breaker.state is BreakerState.OPEN
        assert sample("polystream_cache_circuit_open", service=service) == 1
        failures = sample(
            "polystream_cache_fallbacks_total", service=service, reason="connection"
        ) + sample("polystream_cache_fallbacks_total", service=service, reason="timeout")
        assert failures == settings.breaker_threshold
        assert sample("polystream_cache_fallbacks_total", service=service, reason="circuit_open")
        assert (
            sample(
                "polystream_cache_requests_total", service=service, kind="search", result="bypass"
            )
            == 10
        )

        private_redis.start()  # same port
        await asyncio.sleep(settings.breaker_cooldown_s + 0.2)
        assert await cache.get_or_compute("search", "back", backend.compute("b")) == "b"
        assert cache.breaker.state is BreakerState.CLOSED
        assert sample("polystream_cache_circuit_open", service=service) == 0
        assert await cache.get_or_compute("search", "back", backend.compute("c")) == "b"
        assert backend.calls == 12
        direct = aioredis.Redis.from_url(url)
        try:
            assert await direct.get(cache.key("search", "back")) == b'"b"'
        finally:
            await direct.aclose()
    finally:
        await cache.close()


async def test_slow_redis_times_out_fast_and_opens_the_breaker() -> None:
    """A server that accepts connections and never answers (a hung Redis): calls wait one short
    socket timeout each, with no retries, until the breaker opens; then they skip Redis."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(64)  # the kernel completes handshakes; nothing ever reads or replies
        settings = CacheSettings(
            key_prefix=f"test-{uuid.uuid4().hex[:12]}",
            breaker_threshold=3,
            socket_timeout_s=0.1,
            socket_connect_timeout_s=0.1,
        )
        url = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        service = f"test-{uuid.uuid4().hex[:8]}"
        cache = LookAsideCache(
            redis_client(RedisSettings(url=SecretStr(url)), settings), settings, service=service
        )
        backend = CountingBackend()
        try:
            durations = []
            for i in range(6):
                started = time.monotonic()
                assert await cache.get_or_compute("search", str(i), backend.compute(i)) == i
                durations.append(time.monotonic() - started)
            assert backend.calls == 6
            assert max(durations[:3]) < 0.5  # one 0.1 s timeout, not redis-py's 3 retries
            assert max(durations[3:]) < 0.2  # the breaker is open: Redis is not tried
            assert cache.breaker.state is BreakerState.OPEN
            assert (
                sample("polystream_cache_fallbacks_total", service=service, reason="timeout") == 3
            )
        finally:
            await cache.close()
