"""PostgresSink, migrations and analytics against the real PostgreSQL of the local stack."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from polystream_common.schemas import SensorReading
from polystream_common.settings import PostgresSettings
from polystream_common.sink import SinkRecord
from sensor_consumer import analytics
from sensor_consumer.migrations import migrate
from sensor_consumer.postgres import PostgresSink

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)


@pytest.fixture
async def conn(postgres_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(postgres_dsn)
    await migrate(connection)
    await connection.execute("TRUNCATE sensor_readings, sensors")
    yield connection
    await connection.close()


@pytest.fixture
async def sink(conn: asyncpg.Connection, stack: dict[str, str]) -> AsyncIterator[PostgresSink]:
    settings = PostgresSettings(port=int(stack["POSTGRES_PORT"]))
    postgres = PostgresSink(settings)
    await postgres.setup()
    yield postgres
    await postgres.close()


def records(
    values: list[float], sensor: str = "temp-1", step_min: int = 10
) -> list[SinkRecord[SensorReading]]:
    return [
        SinkRecord(
            SensorReading(
                event_id=uuid.uuid4(),
                event_time=T0 + timedelta(minutes=i * step_min),
                sensor_id=sensor,
                sensor_type="temperature",
                location="lab",
                unit="celsius",
                value=v,
            ),
            "sensor.readings",
            0,
            i,
        )
        for i, v in enumerate(values)
    ]


async def test_migrations_run_twice_apply_once(conn: asyncpg.Connection) -> None:
    assert await migrate(conn) == []
    versions = await conn.fetch("SELECT version FROM schema_migrations")
    assert [r["version"] for r in versions] == ["0001_sensors"]


async def test_a_batch_written_twice_is_stored_once(
    sink: PostgresSink, conn: asyncpg.Connection
) -> None:
    batch = records([20.0 + i for i in range(30)])
    assert await sink.write(batch) == []
    assert await sink.write(batch) == []
    assert await conn.fetchval("SELECT count(*) FROM sensor_readings") == 30
    assert await conn.fetchval("SELECT count(DISTINCT event_id) FROM sensor_readings") == 30


async def test_rows_land_in_daily_partitions_and_sensors_are_upserted(
    sink: PostgresSink, conn: asyncpg.Connection
) -> None:
    batch = records([1.0] * 20, step_min=20)  # 22:00 on day 1 to 04:20 on day 2
    await sink.write(batch[10:])
    await sink.write(batch[:10])  # older readings arrive later: first_seen moves back
    per_partition = await conn.fetch(
        "SELECT tableoid::regclass::text AS part, count(*) AS n FROM sensor_readings"
        " GROUP BY 1 ORDER BY 1"
    )
    assert [(r["part"], r["n"]) for r in per_partition] == [
        ("sensor_readings_20260301", 6),
        ("sensor_readings_20260302", 14),
    ]
    sensor = await conn.fetchrow("SELECT * FROM sensors WHERE sensor_id = 'temp-1'")
    assert sensor["first_seen"] == T0
    assert sensor["last_seen"] == T0 + timedelta(minutes=19 * 20)
    assert (sensor["sensor_type"], sensor["unit"]) == ("temperature", "celsius")


async def test_analytics_on_a_known_data_set(sink: PostgresSink, conn: asyncpg.Connection) -> None:
    values = [10.0, 12.0, 11.0, 13.0, 10.0, 12.0, 11.0, 50.0, 12.0, 11.0]  # one spike at index 7
    await sink.write(records(values))
    await sink.write(records([5.0, 7.0], sensor="temp-2"))
    until = T0 + timedelta(days=1)

    stats = await analytics.sensor_stats(conn, T0, until)
    assert [(s["sensor_id"], s["readings"]) for s in stats] == [("temp-1", 10), ("temp-2", 2)]
    assert stats[0]["min"] == 10.0 and stats[0]["max"] == 50.0
    assert stats[0]["avg"] == pytest.approx(15.2)
    assert stats[1]["avg"] == pytest.approx(6.0) and stats[1]["stddev"] == pytest.approx(2**0.5)

    moving = await analytics.moving_average(conn, "temp-1", T0, until, window=3)
    assert [m["moving_avg"] for m in moving[:4]] == pytest.approx([10.0, 11.0, 11.0, 12.0])
    assert moving[7]["moving_avg"] == pytest.approx((12.0 + 11.0 + 50.0) / 3)

    spikes = await analytics.anomalies(conn, T0, until, window=5, threshold=3.0)
    assert [(a["sensor_id"], a["value"]) for a in spikes] == [("temp-1", 50.0)]
    assert spikes[0]["z_score"] > 3
