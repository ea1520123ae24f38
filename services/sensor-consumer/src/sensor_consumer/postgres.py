"""PostgresSink: sensor readings into a daily-partitioned table, sensors upserted.

Each batch is one transaction: COPY into a temporary staging table (asyncpg's binary COPY, the
fastest way in), then ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` on (event_id, event_time)
and an upsert of the batch's sensors. A redelivered batch leaves no duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from polystream_common.schemas import SensorReading
from polystream_common.settings import PostgresSettings
from polystream_common.sink import Rejection, Sink, SinkRecord
from sensor_consumer.migrations import migrate

log = logging.getLogger(__name__)

ReadingRow = tuple[UUID, datetime, str, float]
READING_COLUMNS = ("event_id", "event_time", "sensor_id", "value")

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS staging_readings (
    event_id uuid, event_time timestamptz, sensor_id text, value double precision
) ON COMMIT DELETE ROWS
"""
MERGE_READINGS = """
INSERT INTO sensor_readings (event_id, event_time, sensor_id, value)
SELECT event_id, event_time, sensor_id, value FROM staging_readings
ON CONFLICT (event_id, event_time) DO NOTHING
"""
UPSERT_SENSORS = """
INSERT INTO sensors (sensor_id, sensor_type, location, unit, first_seen, last_seen)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                     $6::timestamptz[])
ON CONFLICT (sensor_id) DO UPDATE SET
    sensor_type = EXCLUDED.sensor_type,
    location = EXCLUDED.location,
    unit = EXCLUDED.unit,
    first_seen = LEAST(sensors.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(sensors.last_seen, EXCLUDED.last_seen)
"""


def rows_for(readings: Iterable[SensorReading]) -> list[ReadingRow]:
    """One row per distinct event id (a batch may hold a record twice after a redelivery)."""
    rows: dict[UUID, ReadingRow] = {}
    for r in readings:
        rows[r.event_id] = (r.event_id, r.event_time, r.sensor_id, r.value)
    return list(rows.values())


def sensor_columns(readings: Iterable[SensorReading]) -> tuple[list[Any], ...]:
    """Column arrays for the sensors upsert: one entry per sensor, with its first/last seen."""
    first: dict[str, datetime] = {}
    last: dict[str, SensorReading] = {}
    for r in readings:
        if r.sensor_id not in first or r.event_time < first[r.sensor_id]:
            first[r.sensor_id] = r.event_time
        if r.sensor_id not in last or r.event_time >= last[r.sensor_id].event_time:
            last[r.sensor_id] = r
    return (
        list(last),
        [r.sensor_type for r in last.values()],
        [r.location for r in last.values()],
        [r.unit for r in last.values()],
        [first[s] for s in last],
        [r.event_time for r in last.values()],
    )


def partition_days(times: Iterable[datetime]) -> set[date]:
    """UTC days a batch touches: each gets its partition before the insert."""
    return {t.astimezone(UTC).date() for t in times}


def partition_ddl(day: date) -> str:
    start = datetime.combine(day, time(), UTC)
    end = start + timedelta(days=1)
    return (
        f"CREATE TABLE IF NOT EXISTS sensor_readings_{day:%Y%m%d} PARTITION OF sensor_readings"
        f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


class PostgresSink(Sink[SensorReading]):
    """Writes sensor readings and sensors to PostgreSQL; idempotent on (event_id, event_time)."""

    name = "postgres"

    def __init__(self, settings: PostgresSettings) -> None:
        self._settings = settings
        self._pool: asyncpg.Pool | None = None
        self._days: set[date] = set()

    async def setup(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._settings.dsn(),
            min_size=self._settings.pool_min_size,
            max_size=self._settings.pool_max_size,
        )
        async with self._pool.acquire() as conn:
            await migrate(conn)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgresSink.setup() was not called")
        return self._pool

    async def write(
        self, batch: Sequence[SinkRecord[SensorReading]]
    ) -> Sequence[Rejection[SensorReading]]:
        readings = [record.value for record in batch]
        rows = rows_for(readings)
        async with self.pool.acquire() as conn:
            await self._ensure_partitions(conn, partition_days(r[1] for r in rows))
            async with conn.transaction():
                await conn.execute(STAGING)
                await conn.copy_records_to_table(
                    "staging_readings", records=rows, columns=READING_COLUMNS
                )
                await conn.execute(MERGE_READINGS)
                await conn.execute(UPSERT_SENSORS, *sensor_columns(readings))
        return []

    async def _ensure_partitions(self, conn: asyncpg.Connection, days: set[date]) -> None:
        for day in sorted(days - self._days):
            try:
                await conn.execute(partition_ddl(day))
            except asyncpg.DuplicateTableError:
                pass  # another replica created it
            except asyncpg.CheckViolationError:
                # The default partition already holds rows of that day: they stay there.
                log.warning("day %s stays in the default partition", day)
            self._days.add(day)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
