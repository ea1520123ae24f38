"""The sensor read model: its schema and the sensor analytics in SQL over ``sensor_readings``.

The schema is the numbered SQL files of ``sql/sensors`` (:data:`SENSOR_MIGRATIONS`): the contract
between sensor-consumer, which applies them and writes the rows, and every reader.

The analytics are CTEs and window functions. Each function takes an asyncpg connection or pool
and a half-open time range [since, until). Readings are ordered by (event_time, event_id), so
windows are deterministic on equal times. Rolling windows look back past ``since``: the first
readings of a range get a full window of the readings before it, not a truncated one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from polystream_common.migrations import Migrations

SENSOR_MIGRATIONS = Migrations("polystream_readmodels", "sql/sensors", lock_id=0x5E4504)
"""The tables ``sensors`` and ``sensor_readings`` (daily partitions are the writer's business)."""

SENSOR_STATS = """
WITH scoped AS (
    SELECT sensor_id, value FROM sensor_readings
    WHERE event_time >= $1 AND event_time < $2 AND ($3::text IS NULL OR sensor_id = $3)
)
SELECT sensor_id, count(*) AS readings, min(value) AS min, max(value) AS max,
       avg(value) AS mean, stddev_samp(value) AS stddev,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95
FROM scoped
GROUP BY sensor_id
ORDER BY sensor_id
"""

# The last N readings: N - 1 before the range (newest first via the (sensor_id, event_time)
# index) plus the range itself.
MOVING_AVERAGE_ROWS = """
WITH history AS (
    (SELECT event_id, event_time, value FROM sensor_readings
     WHERE sensor_id = $1 AND event_time < $2
     ORDER BY event_time DESC, event_id DESC LIMIT $4::int - 1)
    UNION ALL
    (SELECT event_id, event_time, value FROM sensor_readings
     WHERE sensor_id = $1 AND event_time >= $2 AND event_time < $3)
), averaged AS (
    SELECT event_id, event_time, value,
           avg(value) OVER w AS moving_avg, count(*) OVER w AS samples
    FROM history
    WINDOW w AS (ORDER BY event_time, event_id ROWS BETWEEN $4::int - 1 PRECEDING AND CURRENT ROW)
)
SELECT * FROM averaged WHERE event_time >= $2 ORDER BY event_time, event_id
"""

# The readings of the last interval, this one's time included (peers with the same time too).
MOVING_AVERAGE_INTERVAL = """
WITH history AS (
    SELECT event_id, event_time, value FROM sensor_readings
    WHERE sensor_id = $1 AND event_time >= $2::timestamptz - $4::interval AND event_time < $3
), averaged AS (
    SELECT event_id, event_time, value,
           avg(value) OVER w AS moving_avg, count(*) OVER w AS samples
    FROM history
    WINDOW w AS (ORDER BY event_time RANGE BETWEEN $4::interval PRECEDING AND CURRENT ROW)
)
SELECT * FROM averaged WHERE event_time >= $2 ORDER BY event_time, event_id
"""

# Each reading against the N readings before it, itself excluded so that a spike does not inflate
# its own baseline. History: the N readings before the range of every known sensor (LATERAL over
# the sensors table, each an index scan) plus the range itself.
ANOMALIES = """
WITH history AS (
    SELECT s.sensor_id, h.event_id, h.event_time, h.value
    FROM sensors s
    CROSS JOIN LATERAL (
        SELECT event_id, event_time, value FROM sensor_readings r
        WHERE r.sensor_id = s.sensor_id AND r.event_time < $1
        ORDER BY event_time DESC, event_id DESC LIMIT $4
    ) h
    WHERE $3::text IS NULL OR s.sensor_id = $3
    UNION ALL
    SELECT sensor_id, event_id, event_time, value FROM sensor_readings
    WHERE event_time >= $1 AND event_time < $2 AND ($3::text IS NULL OR sensor_id = $3)
), scored AS (
    SELECT sensor_id, event_id, event_time, value,
           avg(value) OVER w AS baseline,
           stddev_samp(value) OVER w AS spread,
           count(*) OVER w AS samples
    FROM history
    WINDOW w AS (PARTITION BY sensor_id ORDER BY event_time, event_id
                 ROWS BETWEEN $4 PRECEDING AND 1 PRECEDING)
)
SELECT sensor_id, event_id, event_time, value, baseline, spread,
       (value - baseline) / spread AS z_score
FROM scored
WHERE event_time >= $1 AND samples >= $5 AND spread > 0
  AND abs(value - baseline) / spread >= $6
ORDER BY sensor_id, event_time, event_id
"""


@dataclass(frozen=True, slots=True)
class SensorStats:
    """Summary of one sensor's readings over a time range (stddev is the sample one)."""

    sensor_id: str
    readings: int
    min: float
    max: float
    mean: float
    stddev: float | None  # None for a single reading
    p95: float  # continuous (interpolated) 95th percentile


@dataclass(frozen=True, slots=True)
class MovingAverage:
    """One reading and the mean of the window ending at it (``samples`` readings, itself too)."""

    event_id: UUID
    event_time: datetime
    value: float
    moving_avg: float
    samples: int


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A reading whose z-score against the sensor's preceding readings reached the threshold."""

    sensor_id: str
    event_id: UUID
    event_time: datetime
    value: float
    baseline: float
    spread: float
    z_score: float


async def sensor_stats(
    db: asyncpg.Connection | asyncpg.Pool,
    since: datetime,
    until: datetime,
    sensor_id: str | None = None,
) -> list[SensorStats]:
    """Count, min, max, mean, standard deviation and p95 per sensor over [since, until)."""
    rows = await db.fetch(SENSOR_STATS, since, until, sensor_id)
    return [SensorStats(**dict(r)) for r in rows]


async def moving_average(
    db: asyncpg.Connection | asyncpg.Pool,
    sensor_id: str,
    since: datetime,
    until: datetime,
    *,
    window: int | None = 10,
    interval: timedelta | None = None,
) -> list[MovingAverage]:
    """Each reading of one sensor in [since, until) with the mean of either its last ``window``
    readings or, if ``interval`` is given, the readings of the ``interval`` ending at it."""
    if interval is not None:
        if interval <= timedelta(0):
            raise ValueError("interval must be positive")
        rows = await db.fetch(MOVING_AVERAGE_INTERVAL, sensor_id, since, until, interval)
    else:
        if window is None or window < 1:
            raise ValueError("window must be at least 1")
        rows = await db.fetch(MOVING_AVERAGE_ROWS, sensor_id, since, until, window)
    return [MovingAverage(**dict(r)) for r in rows]


async def anomalies(
    db: asyncpg.Connection | asyncpg.Pool,
    since: datetime,
    until: datetime,
    *,
    sensor_id: str | None = None,
    window: int = 50,
    threshold: float = 3.0,
    min_samples: int | None = None,
) -> list[Anomaly]:
    """Readings in [since, until) whose |z-score| against the sensor's previous ``window``
    readings is at least ``threshold``.

    A reading is scored once at least ``min_samples`` (default: ``window``) readings precede it.
    A window of identical values has no spread, so nothing after it is scored.
    """
    if window < 2:
        raise ValueError("window must be at least 2")
    needed = window if min_samples is None else min_samples
    if not 2 <= needed <= window:
        raise ValueError("min_samples must be between 2 and window")
    rows = await db.fetch(ANOMALIES, since, until, sensor_id, window, needed, threshold)
    return [Anomaly(**dict(r)) for r in rows]
