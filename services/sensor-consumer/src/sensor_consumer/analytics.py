"""Sensor analytics in SQL: per-sensor stats, moving averages and z-score anomalies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

SENSOR_STATS = """
SELECT sensor_id, count(*) AS readings, min(value) AS min, max(value) AS max,
       avg(value) AS avg, stddev_samp(value) AS stddev,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95
FROM sensor_readings
WHERE event_time >= $1 AND event_time < $2 AND ($3::text IS NULL OR sensor_id = $3)
GROUP BY sensor_id
ORDER BY sensor_id
"""

MOVING_AVERAGE = """
SELECT event_time, value,
       avg(value) OVER (ORDER BY event_time, event_id ROWS BETWEEN $4::int - 1 PRECEDING
                        AND CURRENT ROW) AS moving_avg
FROM sensor_readings
WHERE sensor_id = $1 AND event_time >= $2 AND event_time < $3
ORDER BY event_time, event_id
"""

# Each reading against the N readings before it (the current one excluded, so a spike does
# not inflate its own baseline).
ANOMALIES = """
WITH windowed AS (
    SELECT sensor_id, event_id, event_time, value,
           avg(value) OVER w AS baseline,
           stddev_samp(value) OVER w AS spread,
           count(*) OVER w AS history
    FROM sensor_readings
    WHERE event_time >= $1 AND event_time < $2 AND ($3::text IS NULL OR sensor_id = $3)
    WINDOW w AS (PARTITION BY sensor_id ORDER BY event_time, event_id
                 ROWS BETWEEN $4::int PRECEDING AND 1 PRECEDING)
)
SELECT sensor_id, event_id, event_time, value, baseline, (value - baseline) / spread AS z_score
FROM windowed
WHERE history >= 2 AND spread > 0 AND abs(value - baseline) / spread >= $5
ORDER BY sensor_id, event_time
"""


async def sensor_stats(
    conn: asyncpg.Connection, since: datetime, until: datetime, sensor_id: str | None = None
) -> list[dict[str, Any]]:
    """Count, min, max, mean, standard deviation and p95 per sensor over [since, until)."""
    return [dict(r) for r in await conn.fetch(SENSOR_STATS, since, until, sensor_id)]


async def moving_average(
    conn: asyncpg.Connection, sensor_id: str, since: datetime, until: datetime, window: int = 10
) -> list[dict[str, Any]]:
    """Each reading of one sensor with the mean of its last ``window`` readings (itself too)."""
    if window < 1:
        raise ValueError("window must be at least 1")
    return [dict(r) for r in await conn.fetch(MOVING_AVERAGE, sensor_id, since, until, window)]


async def anomalies(
    conn: asyncpg.Connection,
    since: datetime,
    until: datetime,
    *,
    sensor_id: str | None = None,
    window: int = 50,
    threshold: float = 3.0,
) -> list[dict[str, Any]]:
    """Readings whose z-score against the sensor's previous ``window`` readings is >= threshold."""
    if window < 2:
        raise ValueError("window must be at least 2")
    rows = await conn.fetch(ANOMALIES, since, until, sensor_id, window, threshold)
    return [dict(r) for r in rows]
