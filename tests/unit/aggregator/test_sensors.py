"""Sensor arithmetic: window rollups and the EWM z-score anomaly rule."""

from __future__ import annotations

import math
import random

import pytest
from aggregator.sensors import EwmStats, observe, rollup_first, rollup_more, rollup_row


def test_rollup_counts_min_max_mean() -> None:
    rollup = rollup_first(3.0)
    for value in (1.0, 5.0, 3.0):
        rollup = rollup_more(rollup, value)
    assert rollup_row("s1", 0, 60_000, rollup) == {
        "sensor_id": "s1",
        "window_start_ms": 0,
        "window_end_ms": 60_000,
        "count": 4,
        "min": 1.0,
        "max": 5.0,
        "mean": 3.0,
    }


def test_first_reading_starts_the_statistics_and_is_not_scored() -> None:
    stats, verdict = observe(None, 10.0, 0.05, 2)
    assert stats == EwmStats(1, 10.0, 0.0)
    assert verdict.z is None and not verdict.is_anomaly(3.0)


def test_readings_are_not_scored_before_min_samples_or_without_spread() -> None:
    stats = None
    for _ in range(30):
        stats, verdict = observe(stats, 20.0, 0.05, 5)
        assert verdict.z is None  # a constant sensor has no spread
    stats = EwmStats(3, 20.0, 1.0)
    _, verdict = observe(stats, 100.0, 0.05, 5)
    assert verdict.z is None


def test_a_spike_is_an_anomaly_against_the_statistics_before_it() -> None:
    rng = random.Random(1)
    stats = None
    for _ in range(200):
        stats, verdict = observe(stats, rng.gauss(20.0, 1.0), 0.05, 20)
        assert stats is not None
    assert stats is not None
    assert stats.mean == pytest.approx(20.0, abs=1.0)
    assert math.sqrt(stats.variance) == pytest.approx(1.0, abs=0.5)
    after, verdict = observe(stats, stats.mean + 10 * math.sqrt(stats.variance), 0.05, 20)
    assert verdict.is_anomaly(3.0)
    assert verdict.z == pytest.approx(10.0)
    assert verdict.mean == stats.mean  # scored against the statistics before it
    assert after.mean > stats.mean  # then folded in
    _, calm = observe(stats, stats.mean + 0.5 * math.sqrt(stats.variance), 0.05, 20)
    assert not calm.is_anomaly(3.0)


def test_ewm_update_is_wests_recurrence() -> None:
    stats = EwmStats(10, 10.0, 4.0)
    updated, _ = observe(stats, 14.0, 0.25, 2)
    # diff 4, increment 1: mean 11, variance 0.75 * (4 + 4 * 1) = 6
    assert updated == EwmStats(11, 11.0, 6.0)


def test_stats_state_round_trips() -> None:
    stats = EwmStats(7, 1.5, 0.25)
    assert EwmStats.from_state(stats.to_state()) == stats
    assert EwmStats.from_state(None) is None
