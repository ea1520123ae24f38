"""PostgresSink and the migrations against the real PostgreSQL of the local stack.

Each test works in a schema of its own, dropped after it: tests stay independent of each other
and of a sensor-consumer (or e2e test) using the public schema of the same database.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

import asyncpg
import pytest

from polystream_common.schemas import SensorReading
from polystream_common.settings import PostgresSettings
from polystream_common.sink import SinkRecord
from polystream_readmodels.postgres import connect
from polystream_readmodels.sensors import SENSOR_MIGRATIONS
from sensor_consumer.postgres import PostgresSink

pytestmark = pytest.mark.integration

# 22:00 UTC ten days ago: recent enough for on-demand partitions, and batches cross midnight.
DAY0 = datetime.now(UTC).date() - timedelta(days=10)
T0 = datetime.combine(DAY0, time(22), UTC)


def part(day: date) -> str:
    return f"sensor_readings_{day:%Y%m%d}"


@pytest.fixture
async def conn(settings: PostgresSettings, schema: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect(settings, schema)
    yield connection
    await connection.close()


@pytest.fixture
async def sink(settings: PostgresSettings, schema: str) -> AsyncIterator[PostgresSink]:
    postgres = PostgresSink(settings, schema=schema)
    await postgres.setup()
    yield postgres
    await postgres.close()


def records(
    values: list[float],
    sensor: str = "temp-1",
    step_min: int = 10,
    start: datetime = T0,
    location: str = "lab",
) -> list[SinkRecord[SensorReading]]:
    return [
        SinkRecord(
            SensorReading(
                event_id=uuid.uuid4(),
                event_time=start + timedelta(minutes=i * step_min),
                sensor_id=sensor,
                sensor_type="temperature",
                location=location,
                unit="celsius",
                value=v,
            ),
            "sensor.readings",
            0,
            i,
        )
        for i, v in enumerate(values)
    ]


async def counts(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT (event_id, event_time)) AS d FROM sensor_readings"
    )
    return int(row["n"]), int(row["d"])


async def test_migrations_run_twice_apply_once(conn: asyncpg.Connection, schema: str) -> None:
    assert await SENSOR_MIGRATIONS.apply(conn, schema) == ["0001_sensors"]
    assert await SENSOR_MIGRATIONS.apply(conn, schema) == []
    versions = await conn.fetch("SELECT version FROM schema_migrations")
    assert [r["version"] for r in versions] == ["0001_sensors"]
    kind = await conn.fetchval(
        "SELECT relkind::text FROM pg_class WHERE oid = 'sensor_readings'::regclass"
    )
    assert kind == "p"  # partitioned
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
        schema,
        "sensor_readings",
    )
    definitions = {r["indexname"]: r["indexdef"] for r in indexes}
    assert "(event_id, event_time)" in definitions["sensor_readings_pkey"]
    assert "btree (sensor_id, event_time)" in definitions["sensor_readings_sensor_time"]
    assert "brin (event_time)" in definitions["sensor_readings_time_brin"]


async def test_replicas_migrating_at_once_apply_each_migration_once(
    settings: PostgresSettings, schema: str
) -> None:
    connections = [await connect(settings, schema) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(SENSOR_MIGRATIONS.apply(c, schema) for c in connections))
    finally:
        for c in connections:
            await c.close()
    assert sorted(applied) == [[], [], [], ["0001_sensors"]]


async def test_the_migrate_command_applies_then_does_nothing(
    settings: PostgresSettings, schema: str
) -> None:
    env = {
        **os.environ,
        "SENSOR_CONSUMER_POSTGRES__PORT": str(settings.port),
        "SENSOR_CONSUMER_POSTGRES__USER": settings.user,
        "SENSOR_CONSUMER_POSTGRES__PASSWORD": settings.password.get_secret_value(),
        "SENSOR_CONSUMER_POSTGRES__DATABASE": settings.database,
        "SENSOR_CONSUMER_POSTGRES_SCHEMA": schema,
    }
    outputs = []
    for _ in range(2):
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "sensor_consumer", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        outputs.append(json.loads(done.stdout))
    assert outputs == [{"applied": ["0001_sensors"]}, {"applied": []}]


async def test_a_batch_written_twice_is_stored_once(
    sink: PostgresSink, conn: asyncpg.Connection
) -> None:
    batch = records([20.0 + i for i in range(30)])
    assert await sink.write(batch) == []
    assert await sink.write(batch) == []
    assert await counts(conn) == (30, 30)


async def test_duplicates_within_a_batch_are_stored_once(
    sink: PostgresSink, conn: asyncpg.Connection
) -> None:
    batch = records([1.0] * 10)
    assert await sink.write(batch + batch[:4] + batch[7:]) == []
    assert await counts(conn) == (10, 10)


async def test_a_redelivery_overlapping_an_earlier_batch_adds_only_the_new_rows(
    sink: PostgresSink, conn: asyncpg.Connection
) -> None:
    batch = records([float(i) for i in range(40)])
    await sink.write(batch[:25])
    await sink.write(batch[10:])  # after a crash the loop may re-poll differently sized batches
    assert await counts(conn) == (40, 40)
    values = await conn.fetch("SELECT value FROM sensor_readings ORDER BY event_time")
    assert [r["value"] for r in values] == [float(i) for i in range(40)]


async def test_replicas_writing_the_same_batch_at_once_store_it_once(
    settings: PostgresSettings, schema: str, conn: asyncpg.Connection
) -> None:
    sinks = [PostgresSink(settings, schema=schema) for _ in range(3)]
    for s in sinks:
        await s.setup()
    try:
        batch = records([float(i) for i in range(500)], step_min=1)
        results = await asyncio.gather(*(s.write(batch) for s in sinks))
    finally:
        for s in sinks:
            await s.close()
    assert list(results) == [[], [], []]
    assert await counts(conn) == (500, 500)
    assert await conn.fetchval("SELECT count(*) FROM sensors") == 1


async def test_sensors_are_upserted_with_first_and_last_seen(
    sink: PostgresSink, conn: asyncpg.Connection
) -> None:
    newer = records([1.0] * 5, start=T0 + timedelta(hours=1), location="hall")
    older = records([1.0] * 5, start=T0 - timedelta(hours=1), location="lab")
    await sink.write(newer)
    await sink.write(older)  # older readings arrive later: first_seen moves back
    await sink.write(records([2.0], sensor="hum-1"))
    rows = await conn.fetch("SELECT * FROM sensors ORDER BY sensor_id")
    assert [r["sensor_id"] for r in rows] == ["hum-1", "temp-1"]
    temp = rows[1]
    assert temp["first_seen"] == T0 - timedelta(hours=1)
    assert temp["last_seen"] == T0 + timedelta(hours=1, minutes=40)
    # The late, older readings do not overwrite the newest description.
    assert (temp["sensor_type"], temp["location"], temp["unit"]) == (
        "temperature",
        "hall",
        "celsius",
    )
    await sink.write(records([1.0], start=T0 + timedelta(hours=3), location="roof"))
    assert await conn.fetchval("SELECT location FROM sensors WHERE sensor_id = 'temp-1'") == "roof"


async def test_rows_across_several_days_land_in_daily_partitions(
    sink: PostgresSink, conn: asyncpg.Connection
) -> None:
    # 22:00 on day 0 every 2 h for 30 readings: 1 on day 0, 12 on day 1, 12 on day 2, 5 on day 3.
    batch = records([1.0] * 30, step_min=120)
    await sink.write(batch[15:])
    await sink.write(batch[:15])
    per_partition = await conn.fetch(
        "SELECT tableoid::regclass::text AS part, count(*) AS n FROM sensor_readings"
        " GROUP BY 1 ORDER BY 1"
    )
    days = [DAY0 + timedelta(days=k) for k in range(4)]
    assert [(r["part"], r["n"]) for r in per_partition] == [
        (part(days[0]), 1),
        (part(days[1]), 12),
        (part(days[2]), 12),
        (part(days[3]), 5),
    ]
    partitions = {
        r["relname"]
        for r in await conn.fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'sensor_readings'::regclass"
        )
    }
    today = datetime.now(UTC).date()
    ahead = {part(days[3] + timedelta(days=1)), part(today), part(today + timedelta(days=1))}
    assert {part(d) for d in days} | ahead | {"sensor_readings_default"} == partitions


async def test_readings_outside_the_partition_window_go_to_the_default_partition(
    sink: PostgresSink, conn: asyncpg.Connection
) -> None:
    ancient = datetime(2001, 1, 1, tzinfo=UTC)
    far_future = datetime.now(UTC) + timedelta(days=3650)
    batch = records([1.0], start=ancient) + records([2.0], start=far_future)
    assert await sink.write(batch) == []
    assert await sink.write(batch) == []
    rows = await conn.fetch("SELECT tableoid::regclass::text AS part FROM sensor_readings")
    assert [r["part"] for r in rows] == ["sensor_readings_default"] * 2


async def test_a_day_already_in_the_default_partition_keeps_landing_there(
    settings: PostgresSettings, schema: str, conn: asyncpg.Connection
) -> None:
    narrow = PostgresSink(settings, schema=schema, partition_past_days=1)
    await narrow.setup()
    try:
        await narrow.write(records([1.0], start=T0 - timedelta(hours=1)))  # outside its window
    finally:
        await narrow.close()
    wide = PostgresSink(settings, schema=schema)
    await wide.setup()
    try:
        # The day's partition cannot be created any more (its rows sit in DEFAULT): the batch
        # still goes in, and a redelivery still adds nothing.
        batch = records([2.0, 3.0], start=T0 - timedelta(hours=2))
        assert await wide.write(batch) == []
        assert await wide.write(batch) == []
    finally:
        await wide.close()
    assert await counts(conn) == (3, 3)


async def test_a_reading_postgres_cannot_store_is_rejected_and_the_rest_written(
    sink: PostgresSink, conn: asyncpg.Connection
) -> None:
    batch = records([1.0, 2.0, 3.0])
    poison = SinkRecord(
        batch[1].value.model_copy(update={"event_id": uuid.uuid4(), "location": "la\x00b"}),
        "sensor.readings",
        0,
        99,
    )
    rejections = await sink.write([*batch, poison])
    assert [(r.record.offset, r.error_class) for r in rejections] == [(99, "PostgresRefused")]
    assert await counts(conn) == (3, 3)


async def test_a_server_that_is_down_raises_for_the_loop_to_retry(
    settings: PostgresSettings,
) -> None:
    down = PostgresSink(settings.model_copy(update={"port": 1}))
    with pytest.raises(OSError):
        await down.setup()
