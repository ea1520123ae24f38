"""Write-rate measurements of sensor-consumer's PostgreSQL path, for ``make bench``.

:func:`raw_copy_ceiling` is the ceiling the service is measured against: plain asyncpg COPY of the
same rows into the same (emptied) table, with no Kafka, no dedupe and no sensors upsert.
:func:`sink_write_rate` is :class:`~sensor_consumer.postgres.PostgresSink` alone on the same rows.
Both empty ``sensor_readings`` and ``sensors`` of the schema they write to first.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import asyncpg

from polystream_common.schemas import SensorReading
from polystream_common.settings import PostgresSettings
from polystream_common.sink import SinkRecord
from sensor_consumer.migrations import migrate
from sensor_consumer.postgres import (
    READING_COLUMNS,
    PostgresSink,
    ReadingRow,
    connect,
    partition_days,
    partition_ddl,
)


async def raw_copy_ceiling(dsn: str, rows: Sequence[ReadingRow], batch: int = 5000) -> float:
    """rows/s of ``copy_records_to_table`` of ``rows`` (see ``postgres.batch_rows``) into an
    emptied sensor_readings, ``batch`` rows per COPY, each day's partition created beforehand."""
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await conn.execute("TRUNCATE sensor_readings, sensors")
        for day in partition_days(r[1] for r in rows):
            await conn.execute(partition_ddl(day))
        records = list(rows)
        started = time.perf_counter()
        for i in range(0, len(records), batch):
            await conn.copy_records_to_table(
                "sensor_readings", records=records[i : i + batch], columns=READING_COLUMNS
            )
        return len(records) / (time.perf_counter() - started)
    finally:
        await conn.close()


async def sink_write_rate(
    settings: PostgresSettings,
    readings: Sequence[SensorReading],
    batch: int = 5000,
    schema: str = "public",
) -> float:
    """rows/s of ``PostgresSink.write`` of ``readings`` in batches of ``batch`` into emptied
    tables (partitions are created on demand, as in the service: that cost is counted)."""
    conn = await connect(settings, schema)
    try:
        await migrate(conn, schema)
        await conn.execute("TRUNCATE sensor_readings, sensors")
    finally:
        await conn.close()
    sink = PostgresSink(settings, schema=schema)
    await sink.setup()
    try:
        records = [SinkRecord(r, "sensor.readings", 0, i) for i, r in enumerate(readings)]
        started = time.perf_counter()
        for i in range(0, len(records), batch):
            await sink.write(records[i : i + batch])
        return len(records) / (time.perf_counter() - started)
    finally:
        await sink.close()
