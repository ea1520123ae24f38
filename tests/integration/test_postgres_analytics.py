"""Sensor analytics (stats, moving averages, z-score anomalies) on a known data set, written by
PostgresSink into a schema of its own on the real PostgreSQL of the local stack."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta

import asyncpg
import pytest

from polystream_common.schemas import SensorReading
from polystream_common.settings import PostgresSettings
from polystream_common.sink import SinkRecord
from polystream_readmodels import sensors
from polystream_readmodels.postgres import connect
from sensor_consumer.postgres import PostgresSink

pytestmark = pytest.mark.integration

T0 = datetime.combine(datetime.now(UTC).date() - timedelta(days=3), time(8), UTC)
UNTIL = T0 + timedelta(days=1)
MINUTE = timedelta(minutes=1)

# "ramp": 1..10 every 10 minutes from T0, after one outlier 1000 at T0 - 10 min (out of range).
RAMP = [float(v) for v in range(1, 11)]
# "pair": 5 and 7.
# "spiky": 60 readings alternating 10/12 every minute from T0, with two injected spikes.
SPIKES = {25: 40.0, 45: -20.0}
SPIKY = [SPIKES.get(i, 10.0 if i % 2 == 0 else 12.0) for i in range(60)]


def reading(sensor: str, at: datetime, value: float) -> SensorReading:
    return SensorReading(
        event_id=uuid.uuid4(),
        event_time=at,
        sensor_id=sensor,
        sensor_type="temperature",
        location="lab",
        unit="celsius",
        value=value,
    )


def data_set() -> list[SensorReading]:
    return [
        reading("ramp", T0 - 10 * MINUTE, 1000.0),
        *(reading("ramp", T0 + 10 * i * MINUTE, v) for i, v in enumerate(RAMP)),
        reading("pair", T0, 5.0),
        reading("pair", T0 + MINUTE, 7.0),
        *(reading("spiky", T0 + i * MINUTE, v) for i, v in enumerate(SPIKY)),
    ]


@pytest.fixture
async def conn(settings: PostgresSettings, schema: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a schema holding the known data set."""
    sink = PostgresSink(settings, schema=schema)
    await sink.setup()
    try:
        batch = [SinkRecord(r, "sensor.readings", 0, i) for i, r in enumerate(data_set())]
        assert await sink.write(batch[::2]) == []
        assert await sink.write(batch[1::2]) == []
    finally:
        await sink.close()
    connection = await connect(settings, schema)
    yield connection
    await connection.close()


async def test_stats_per_sensor_over_a_range(conn: asyncpg.Connection) -> None:
    stats = await sensors.sensor_stats(conn, T0, UNTIL)
    assert [s.sensor_id for s in stats] == ["pair", "ramp", "spiky"]
    pair, ramp, spiky = stats
    # The 1000 before T0 is out of range.
    assert (ramp.readings, ramp.min, ramp.max) == (10, 1.0, 10.0)
    assert ramp.mean == pytest.approx(5.5)
    assert ramp.stddev == pytest.approx(3.0276503540974917)  # sample standard deviation
    assert ramp.p95 == pytest.approx(9.55)  # interpolated: 9 + 0.55 * (10 - 9)
    assert (pair.readings, pair.min, pair.max) == (2, 5.0, 7.0)
    assert pair.mean == pytest.approx(6.0)
    assert pair.stddev == pytest.approx(2**0.5)
    assert pair.p95 == pytest.approx(6.9)
    assert spiky.readings == 60 and (spiky.min, spiky.max) == (-20.0, 40.0)
    assert spiky.mean == pytest.approx(statistics.fmean(SPIKY))
    assert spiky.stddev == pytest.approx(statistics.stdev(SPIKY))


async def test_stats_of_one_sensor_and_of_an_empty_range(conn: asyncpg.Connection) -> None:
    only = await sensors.sensor_stats(conn, T0, T0 + 25 * MINUTE, sensor_id="ramp")
    assert [(s.sensor_id, s.readings, s.max, s.mean) for s in only] == [("ramp", 3, 3.0, 2.0)]
    assert await sensors.sensor_stats(conn, UNTIL, UNTIL + timedelta(days=1)) == []


async def test_moving_average_over_the_last_n_readings(conn: asyncpg.Connection) -> None:
    moving = await sensors.moving_average(conn, "ramp", T0, UNTIL, window=3)
    # The window reaches back before the range: the 1000 at T0 - 10 min counts for the first two.
    assert [m.value for m in moving] == RAMP
    assert [m.moving_avg for m in moving] == pytest.approx(
        [500.5, 1003 / 3, 2, 3, 4, 5, 6, 7, 8, 9]
    )
    assert [m.samples for m in moving] == [2] + [3] * 9
    later = await sensors.moving_average(conn, "ramp", T0 + 30 * MINUTE, UNTIL, window=3)
    assert [m.moving_avg for m in later] == pytest.approx([3, 4, 5, 6, 7, 8, 9])


async def test_moving_average_over_a_time_interval(conn: asyncpg.Connection) -> None:
    moving = await sensors.moving_average(conn, "ramp", T0, UNTIL, interval=timedelta(minutes=15))
    # Readings are 10 minutes apart: each window holds the reading before and itself.
    assert [m.moving_avg for m in moving] == pytest.approx(
        [500.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5]
    )
    assert [m.samples for m in moving] == [2] * 10


async def test_anomalies_flag_exactly_the_injected_spikes(conn: asyncpg.Connection) -> None:
    window = 10
    found = await sensors.anomalies(conn, T0, UNTIL, window=window, threshold=3.0)
    assert [(a.sensor_id, a.event_time, a.value) for a in found] == [
        ("spiky", T0 + i * MINUTE, v) for i, v in SPIKES.items()
    ]
    for anomaly, i in zip(found, SPIKES, strict=True):
        before = SPIKY[i - window : i]
        expected = (SPIKY[i] - statistics.fmean(before)) / statistics.stdev(before)
        assert anomaly.z_score == pytest.approx(expected)
        assert anomaly.baseline == pytest.approx(11.0)
    assert found[0].z_score == pytest.approx(29 / (10 / 9) ** 0.5)


async def test_anomalies_score_the_start_of_a_range_against_readings_before_it(
    conn: asyncpg.Connection,
) -> None:
    # The spike at minute 25 has only 5 readings of its own range before it: the other 5 of its
    # window come from before the range.
    found = await sensors.anomalies(
        conn, T0 + 20 * MINUTE, T0 + 30 * MINUTE, sensor_id="spiky", window=10
    )
    assert [a.value for a in found] == [40.0]
    assert await sensors.anomalies(conn, T0, UNTIL, sensor_id="ramp", window=5) == []
    assert await sensors.anomalies(conn, T0, UNTIL, window=10, threshold=30.0) == []


async def test_the_analytics_command_prints_json(
    settings: PostgresSettings, schema: str, conn: asyncpg.Connection
) -> None:
    env = {
        **os.environ,
        "SENSOR_CONSUMER_POSTGRES__PORT": str(settings.port),
        "SENSOR_CONSUMER_POSTGRES__USER": settings.user,
        "SENSOR_CONSUMER_POSTGRES__PASSWORD": settings.password.get_secret_value(),
        "SENSOR_CONSUMER_POSTGRES__DATABASE": settings.database,
        "SENSOR_CONSUMER_POSTGRES_SCHEMA": schema,
    }
    command = [
        sys.executable,
        "-m",
        "sensor_consumer",
        "analytics",
        "stats",
        "--sensor",
        "ramp",
        "--since",
        T0.isoformat(),
        "--until",
        UNTIL.isoformat(),
    ]
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    [row] = json.loads(done.stdout)
    assert (row["sensor_id"], row["readings"], row["mean"]) == ("ramp", 10, 5.5)
