"""The write ceiling sensor-consumer is measured against (``make bench``): plain asyncpg COPY of
the same rows into the same table, with no Kafka, no staging and no dedupe."""

from __future__ import annotations

import time

import asyncpg

from sensor_consumer.migrations import migrate
from sensor_consumer.postgres import READING_COLUMNS, ReadingRow, partition_days, partition_ddl


async def raw_copy_ceiling(dsn: str, rows: list[ReadingRow], batch: int = 5000) -> float:
    """rows/s of ``copy_records_to_table`` into an emptied sensor_readings, in batches."""
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await conn.execute("TRUNCATE sensor_readings")
        for day in partition_days(r[1] for r in rows):
            await conn.execute(partition_ddl(day))
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            await conn.copy_records_to_table(
                "sensor_readings", records=rows[i : i + batch], columns=READING_COLUMNS
            )
        return len(rows) / (time.perf_counter() - started)
    finally:
        await conn.close()
