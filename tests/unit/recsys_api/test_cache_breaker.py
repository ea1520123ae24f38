"""The cache's circuit breaker (on an injected clock) and its TTL jitter: no network."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from recsys_api.cache import BreakerState, CacheSettings, CircuitBreaker, jittered_ttl_ms


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_consecutive_failures() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, cooldown_s=5.0, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_success()  # a success resets the count: failures must be consecutive
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now += 4.9
    assert not breaker.allow()


def test_breaker_lets_one_probe_after_cooldown_and_closes_on_success() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown_s=5.0, clock=clock)
    breaker.record_failure()
    clock.now += 5.0
    assert breaker.allow()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # others still skip Redis while the probe runs
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=5, cooldown_s=5.0, clock=clock)
    for _ in range(5):
        breaker.record_failure()
    clock.now += 6.0
    assert breaker.allow()
    breaker.record_failure()  # one failure in half-open reopens, whatever the threshold
    assert breaker.state is BreakerState.OPEN
    clock.now += 4.0
    assert not breaker.allow()
    clock.now += 1.0
    assert breaker.allow()


def test_lost_probe_does_not_wedge_the_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown_s=5.0, clock=clock)
    breaker.record_failure()
    clock.now += 5.0
    assert breaker.allow()  # a probe whose task is cancelled and never reports
    clock.now += 5.0
    assert breaker.allow()  # another one is let through


def test_breaker_reports_state_changes() -> None:
    clock = FakeClock()
    seen: list[BreakerState] = []
    breaker = CircuitBreaker(threshold=1, cooldown_s=1.0, clock=clock, on_change=seen.append)
    breaker.record_failure()
    clock.now += 1.0
    breaker.allow()
    breaker.record_success()
    breaker.record_success()
    assert seen == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


@pytest.mark.parametrize("ttl_s", [0.5, 30.0, 60.0, 300.0])
def test_jittered_ttl_stays_within_bounds_and_spreads(ttl_s: float) -> None:
    rng = random.Random(7)
    ttls = [jittered_ttl_ms(ttl_s, 0.1, rng) for _ in range(2000)]
    assert min(ttls) >= ttl_s * 1000 * 0.9 - 1
    assert max(ttls) <= ttl_s * 1000 * 1.1 + 1
    # spread: keys written together do not expire together
    assert max(ttls) - min(ttls) > ttl_s * 1000 * 0.15


def test_no_jitter_and_tiny_ttls() -> None:
    rng = random.Random(1)
    assert jittered_ttl_ms(60.0, 0.0, rng) == 60_000
    assert jittered_ttl_ms(0.0001, 0.5, rng) == 1


def test_settings_ttl_per_kind_and_validation() -> None:
    settings = CacheSettings()
    assert settings.ttl_for("recommendations") == 60.0
    assert settings.ttl_for("search") == 300.0
    assert settings.ttl_for("analytics") == 30.0
    assert settings.ttl_for("unknown") == settings.default_ttl_s
    with pytest.raises(ValidationError):
        CacheSettings(jitter_fraction=1.0)
    with pytest.raises(ValidationError):
        CacheSettings(ttl_s={"search": 0})
    with pytest.raises(ValidationError):
        CacheSettings(key_prefix="bad prefix:")
