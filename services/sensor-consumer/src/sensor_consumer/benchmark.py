"""Write-rate measurements of sensor-consumer's PostgreSQL path, for ``make bench``.

:func:`raw_copy_ceiling` is the ceiling the service is measured against: plain asyncpg COPY of the
same rows into the same (emptied) table, with no Kafka, no dedupe and no sensors upsert.
It empties ``sensor_readings`` and ``sensors`` first.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import asyncpg

from polystream_readmodels.sensors import SENSOR_MIGRATIONS
from sensor_consumer.postgres import (
    READING_COLUMNS,
    ReadingRow,
    partition_days,
    partition_ddl,
)


async def raw_copy_ceiling(
    dsn: str, rows: Sequence[ReadingRow], batch: int = 5000, schema: str = "public"
) -> float:
    """rows/s of ``copy_records_to_table`` of ``rows`` (see ``postgres.batch_rows``) into an
    emptied sensor_readings of ``schema`` (the service's ``postgres_schema``), ``batch`` rows per
    COPY, each day's partition created beforehand."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": f'"{schema}"'})
    try:
        await SENSOR_MIGRATIONS.apply(conn, schema)
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
