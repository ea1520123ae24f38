"""The look-aside Redis cache shared by polystream's APIs (recsys-api, shop-api): read Redis, on a
miss compute from the stores and write the value back with a TTL.

What it guarantees, and how:

- **Keys** are ``<prefix>:<kind>:<key>``; each service picks its prefix and kinds (recsys-api's
  ``recsys:recommendations:<user_id>``, shop-api's ``shop:stock:<product_id>``), and
  :meth:`LookAsideCache.invalidate` deletes them by kind and key.
- **TTLs** come per kind from :class:`CacheSettings` and are spread by a uniform jitter of
  ``± jitter_fraction``, so keys written together (a warm-up, a burst after a deploy) do not
  expire together and send one wave of misses to the stores.
- **Stampede protection is in-process single-flight**: concurrent calls for one key in one
  process share one task (the Redis read, then ``compute``, then the write), so 50 concurrent
  misses run ``compute`` once. The shared task is shielded: a caller that is cancelled (a client
  that hung up) does not cancel the others' result. There is **no** cross-replica Redis lock
  (``SET NX PX``): with R replicas a cold key costs at most R computes, which the stores take, and
  a lock would add a round trip to every miss plus a poll loop and a dead-holder fallback. Add it
  if a kind's compute becomes expensive enough that R concurrent computes hurt.
- **Redis down or slow never fails a request.** The client has short socket timeouts and no
  retries (:func:`redis_client`); any Redis error or timeout makes the call compute from the
  stores (``result="bypass"``, counted in ``polystream_cache_fallbacks_total{reason}``). After
  ``breaker_threshold`` consecutive failures a :class:`CircuitBreaker` skips Redis for
  ``breaker_cooldown_s``, then lets one call probe it: so an outage costs a few timeouts, not one
  per request.
- **A value that does not decode** (a bad write, a changed format) counts as a miss and is
  overwritten by the recomputed value; it never fails the request.
- :meth:`LookAsideCache.invalidate` is the one operation that raises
  (:class:`CacheUnavailableError`): a lost invalidation would serve stale data for a whole TTL,
  so its caller (a consumer) must retry it. Known gap: an invalidation that lands while a
  compute of the same key is in flight (here or on another replica) can be overwritten by that
  compute's older value, which then lives for one TTL; the TTLs bound it.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

from prometheus_client import Counter, Gauge
from pydantic import BaseModel, Field, PositiveFloat
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from polystream_common.settings import RedisSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

CACHE_REQUESTS = Counter(
    "polystream_cache_requests_total",
    "Cache lookups: hit (served from Redis), miss (computed and stored), bypass (Redis skipped"
    " or failing: computed from the stores).",
    ["service", "kind", "result"],
)
CACHE_FALLBACKS = Counter(
    "polystream_cache_fallbacks_total",
    "Redis operations not done because Redis failed, timed out or its circuit was open.",
    ["service", "reason"],
)
CACHE_CIRCUIT_OPEN = Gauge(
    "polystream_cache_circuit_open",
    "1 while the Redis circuit breaker skips Redis (open, or half-open: one probe goes through),"
    " 0 while Redis is used.",
    ["service"],
)


class CacheSettings(BaseModel):
    """The look-aside cache; the Redis URL is :class:`~polystream_common.settings.RedisSettings`."""

    enabled: bool = Field(
        default=True, description="off: every read computes from the stores (result=bypass)"
    )
    key_prefix: str = Field(default="cache", pattern=r"^[A-Za-z0-9._-]+$")
    ttl_s: dict[str, PositiveFloat] = Field(
        default_factory=dict, description="TTL of each kind of value, in seconds"
    )
    default_ttl_s: float = Field(default=60.0, gt=0, description="TTL of a kind not in ttl_s")
    jitter_fraction: float = Field(
        default=0.1, ge=0, lt=1, description="each TTL is spread uniformly by ± this fraction"
    )
    # Short, so an outage costs little; not too short, since a busy 2-core host answered a GET
    # in over 100 ms under full load (make run with every service: recsys-api's measurement).
    socket_timeout_s: float = Field(default=0.25, gt=0)
    socket_connect_timeout_s: float = Field(default=0.25, gt=0)
    breaker_threshold: int = Field(
        default=5, ge=1, description="consecutive Redis failures that open the circuit"
    )
    breaker_cooldown_s: float = Field(
        default=5.0, gt=0, description="how long an open circuit skips Redis before one probe"
    )

    def ttl_for(self, kind: str) -> float:
        return self.ttl_s.get(kind, self.default_ttl_s)


def redis_client(redis: RedisSettings, cache: CacheSettings) -> Redis:
    """A client that fails fast: short timeouts and no retries (redis-py retries 3 times by
    default, which would multiply every timeout). It connects lazily, on the first command."""
    return Redis.from_url(
        redis.url.get_secret_value(),
        socket_timeout=cache.socket_timeout_s,
        socket_connect_timeout=cache.socket_connect_timeout_s,
        retry=Retry(NoBackoff(), 0),
    )


def jittered_ttl_ms(ttl_s: float, fraction: float, rng: random.Random) -> int:
    """``ttl_s`` spread uniformly over ``[ttl_s * (1 - fraction), ttl_s * (1 + fraction)]``, in
    milliseconds (Redis ``PX``), at least 1."""
    return max(1, round(ttl_s * 1000 * (1 + rng.uniform(-fraction, fraction))))


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Closed: every call goes to Redis. ``threshold`` consecutive failures open it: calls skip
    Redis. After ``cooldown_s`` one call (the probe) goes through: its success closes the
    breaker, its failure opens it for another cool-down. A probe that never reports (its task
    cancelled) does not wedge it: after another cool-down a new probe is let through.

    Hand-written (about 30 lines) because no maintained asyncio breaker is among our dependencies;
    single-threaded (one event loop), so it needs no lock.
    """

    def __init__(
        self,
        threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._on_change = on_change
        self.state = BreakerState.CLOSED
        self.failures = 0
        self._since = 0.0  # when it opened, or when the probe started

    def allow(self) -> bool:
        """Whether this call may use Redis; when it is the probe, it must report its outcome."""
        if self.state is BreakerState.CLOSED:
            return True
        if self._clock() - self._since < self.cooldown_s:
            return False
        self._set(BreakerState.HALF_OPEN)  # this call is the probe (or replaces a lost one)
        return True

    def record_success(self) -> None:
        self.failures = 0
        if self.state is not BreakerState.CLOSED:
            self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.threshold:
            self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        self._since = self._clock()
        changed, self.state = state is not self.state, state
        if changed and self._on_change is not None:
            self._on_change(state)


class CacheUnavailableError(Exception):
    """Redis could not be reached (or its circuit is open): the operation was not done."""


class _Miss:
    """A value not in Redis (or not readable from it)."""


_MISS: Final = _Miss()

# redis-py wraps socket errors in its own; OSError (TimeoutError included) is caught too, so a
# failure it lets through unwrapped still falls back to the stores rather than failing a request.
_REDIS_FAILURES: Final = (RedisError, OSError)


def _json_encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _json_decode(raw: bytes) -> Any:
    return json.loads(raw)


class LookAsideCache:
    """Read Redis first; on a miss run ``compute`` once per key (single-flight) and store the
    value with a jittered TTL. See the module docstring for the guarantees."""

    def __init__(
        self,
        redis: Redis,
        settings: CacheSettings,
        *,
        service: str,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._redis = redis
        self.settings = settings
        self.service = service
        self._rng = rng or random.Random()
        self._circuit_gauge = CACHE_CIRCUIT_OPEN.labels(service=service)
        self._circuit_gauge.set(0)
        self.breaker = CircuitBreaker(
            settings.breaker_threshold,
            settings.breaker_cooldown_s,
            clock,
            on_change=self._on_breaker_change,
        )
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        # CACHE_REQUESTS' children, bound once per (kind, result): labels() costs more than inc()
        self._requests: dict[tuple[str, str], Any] = {}

    def key(self, kind: str, key: str) -> str:
        return f"{self.settings.key_prefix}:{kind}:{key}"

    async def get_or_compute(
        self,
        kind: str,
        key: str,
        compute: Callable[[], Awaitable[T]],
        *,
        encode: Callable[[T], bytes | str] = _json_encode,
        decode: Callable[[bytes], T] = _json_decode,
    ) -> T:
        """The cached value of ``kind``/``key``, or ``compute()``'s (then cached). Concurrent
        calls for one key share the first caller's ``compute``, ``encode`` and ``decode``.
        Exceptions of ``compute`` reach every waiter and nothing is cached."""
        full_key = self.key(kind, key)
        task = self._inflight.get(full_key)
        if task is None:
            task = asyncio.ensure_future(self._load(kind, full_key, compute, encode, decode))
            self._inflight[full_key] = task
            task.add_done_callback(lambda done: self._forget(full_key, done))
        value, result = await asyncio.shield(task)
        # every caller counts, those that joined a load in flight with the leader's result
        counter = self._requests.get((kind, result))
        if counter is None:
            counter = CACHE_REQUESTS.labels(self.service, kind, result)
            self._requests[kind, result] = counter
        counter.inc()
        return value  # type: ignore[no-any-return]

    async def invalidate(self, kind: str, *keys: str) -> None:
        """Delete cached values (one ``DEL`` for all of ``keys``). Raises
        :class:`CacheUnavailableError` when Redis cannot be reached: the caller retries, since a
        lost invalidation serves stale data for a TTL."""
        await self.invalidate_many([(kind, key) for key in keys])

    async def invalidate_many(self, entries: Sequence[tuple[str, str]]) -> None:
        """Delete the cached values of several ``(kind, key)`` in one ``DEL``; raises as
        :meth:`invalidate`."""
        if not entries:
            return
        if not self.breaker.allow():
            self._fallback("circuit_open")
            raise CacheUnavailableError("Redis circuit is open")
        try:
            await self._redis.delete(*(self.key(kind, key) for kind, key in entries))
        except _REDIS_FAILURES as exc:
            self._failed(exc)
            raise CacheUnavailableError(str(exc)) from exc
        self.breaker.record_success()

    async def ping(self) -> None:
        """One round trip to Redis (readiness), around the breaker: it reports, not protects."""
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()

    async def _load(
        self,
        kind: str,
        full_key: str,
        compute: Callable[[], Awaitable[T]],
        encode: Callable[[T], bytes | str],
        decode: Callable[[bytes], T],
    ) -> tuple[T, str]:
        """The value and how it was served: ``hit``, ``miss`` or ``bypass``."""
        cached = await self._read(full_key, decode)
        if not isinstance(cached, _Miss):
            return cached, "hit"
        redis_usable = cached is _MISS
        value = await compute()
        if redis_usable and await self._write(kind, full_key, encode(value)):
            return value, "miss"
        return value, "bypass"

    async def _read(self, full_key: str, decode: Callable[[bytes], T]) -> T | _Miss:
        """The decoded value; ``_MISS`` when absent or undecodable (Redis usable); a fresh
        ``_Miss()`` when Redis was skipped or failed."""
        if not self.settings.enabled:
            return _Miss()
        if not self.breaker.allow():
            self._fallback("circuit_open")
            return _Miss()
        try:
            raw = await self._redis.get(full_key)
        except _REDIS_FAILURES as exc:
            self._failed(exc)
            return _Miss()
        self.breaker.record_success()
        if raw is None:
            return _MISS
        try:  # our client returns bytes; a client built with decode_responses would give str
            return decode(raw.encode() if isinstance(raw, str) else raw)
        except Exception:  # any decoder's error: the value is recomputed and overwritten
            log.warning("undecodable cache value, recomputing", extra={"key": full_key})
            return _MISS

    async def _write(self, kind: str, full_key: str, raw: bytes | str) -> bool:
        if not self.breaker.allow():
            self._fallback("circuit_open")
            return False
        ttl_ms = jittered_ttl_ms(
            self.settings.ttl_for(kind), self.settings.jitter_fraction, self._rng
        )
        try:
            await self._redis.set(full_key, raw, px=ttl_ms)
        except _REDIS_FAILURES as exc:
            self._failed(exc)
            return False
        self.breaker.record_success()
        return True

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, RedisTimeoutError | TimeoutError):
            reason = "timeout"
        elif isinstance(exc, RedisConnectionError | OSError):
            reason = "connection"
        else:
            reason = "error"
        log.warning("Redis %s, serving from the stores: %s", reason, exc)
        self._fallback(reason)
        self.breaker.record_failure()

    def _fallback(self, reason: str) -> None:
        CACHE_FALLBACKS.labels(self.service, reason).inc()

    def _forget(self, full_key: str, task: asyncio.Task[Any]) -> None:
        if self._inflight.get(full_key) is task:
            del self._inflight[full_key]
        if not task.cancelled():
            task.exception()  # retrieved, so a failure nobody awaited is not logged as lost

    def _on_breaker_change(self, state: BreakerState) -> None:
        self._circuit_gauge.set(0 if state is BreakerState.CLOSED else 1)
        log.warning("Redis circuit breaker %s", state.value)


__all__ = [
    "CACHE_CIRCUIT_OPEN",
    "CACHE_FALLBACKS",
    "CACHE_REQUESTS",
    "BreakerState",
    "CacheSettings",
    "CacheUnavailableError",
    "CircuitBreaker",
    "LookAsideCache",
    "jittered_ttl_ms",
    "redis_client",
]
