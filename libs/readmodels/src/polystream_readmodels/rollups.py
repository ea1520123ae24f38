"""The sensor rollup read model: count, min, max and mean per sensor and closed event-time window.

The aggregator writes it (``services/aggregator``); the schema is the numbered SQL files of
``sql/rollups`` (:data:`ROLLUP_MIGRATIONS`). It answers dashboards without scanning
``sensor_readings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from polystream_common.migrations import Migrations

ROLLUP_MIGRATIONS = Migrations("polystream_readmodels", "sql/rollups", lock_id=0x5E4A11)
"""The table ``sensor_rollups``."""

ROLLUPS = """
SELECT sensor_id, window_start, window_end, count, min, max, mean FROM sensor_rollups
WHERE window_start >= $1 AND window_start < $2 AND ($3::text IS NULL OR sensor_id = $3)
ORDER BY sensor_id, window_start
"""


@dataclass(frozen=True, slots=True)
class SensorRollup:
    """One sensor's readings in one closed window [window_start, window_end)."""

    sensor_id: str
    window_start: datetime
    window_end: datetime
    count: int
    min: float
    max: float
    mean: float


async def sensor_rollups(
    db: asyncpg.Connection | asyncpg.Pool,
    since: datetime,
    until: datetime,
    sensor_id: str | None = None,
) -> list[SensorRollup]:
    """Rollups of windows starting in [since, until), per sensor in time order."""
    rows = await db.fetch(ROLLUPS, since, until, sensor_id)
    return [SensorRollup(**dict(r)) for r in rows]
