"""Sensor arithmetic, pure: a window's rollup and the anomaly rule.

The anomaly rule scores each reading against its sensor's exponentially weighted mean and
variance *before* the reading (so a spike does not raise its own baseline), then folds the reading
in. EWM statistics need O(1) state per sensor and follow a sensor that drifts; a weight ``alpha``
of 0.05 remembers about the last 20-40 readings. A reading is scored once ``min_samples`` readings
came before it and the variance is positive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def rollup_first(value: float) -> dict[str, float]:
    """A window's rollup after its first reading (the mean is ``sum / count`` at the end)."""
    return {"count": 1, "min": value, "max": value, "sum": value}


def rollup_more(rollup: dict[str, float], value: float) -> dict[str, float]:
    """A window's rollup after one more reading."""
    rollup["count"] += 1
    rollup["sum"] += value
    if value < rollup["min"]:
        rollup["min"] = value
    if value > rollup["max"]:
        rollup["max"] = value
    return rollup


@dataclass(frozen=True, slots=True)
class EwmStats:
    """Exponentially weighted mean and variance of a sensor's readings so far."""

    count: int
    mean: float
    variance: float

    def to_state(self) -> list[float]:
        return [self.count, self.mean, self.variance]

    @classmethod
    def from_state(cls, state: list[float] | None) -> EwmStats | None:
        return None if state is None else cls(int(state[0]), state[1], state[2])


@dataclass(frozen=True, slots=True)
class Verdict:
    """A reading's z-score against the statistics before it (None: not scored yet)."""

    z: float | None
    mean: float
    stddev: float

    def is_anomaly(self, threshold: float) -> bool:
        return self.z is not None and abs(self.z) > threshold


def observe(
    stats: EwmStats | None, value: float, alpha: float, min_samples: int
) -> tuple[EwmStats, Verdict]:
    """Score ``value`` against ``stats``, then fold it in (West's incremental EWM variance)."""
    if stats is None:
        return EwmStats(1, value, 0.0), Verdict(None, value, 0.0)
    stddev = math.sqrt(stats.variance)
    z = (value - stats.mean) / stddev if stats.count >= min_samples and stddev > 0 else None
    diff = value - stats.mean
    increment = alpha * diff
    updated = EwmStats(
        stats.count + 1, stats.mean + increment, (1 - alpha) * (stats.variance + diff * increment)
    )
    return updated, Verdict(z, stats.mean, stddev)


def rollup_row(
    sensor_id: str, start_ms: int, end_ms: int, rollup: Mapping[str, Any]
) -> dict[str, Any]:
    """The published and stored form of a closed window's rollup."""
    return {
        "sensor_id": sensor_id,
        "window_start_ms": start_ms,
        "window_end_ms": end_ms,
        "count": int(rollup["count"]),
        "min": rollup["min"],
        "max": rollup["max"],
        "mean": rollup["sum"] / rollup["count"],
    }
