"""PostgresSink's error classes on errors the real PostgreSQL (or its absence) raises: a refused
connection and a statement timeout are transient, a value the server refuses is not.

Each test works in a schema of its own (see conftest.py)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from polystream_common.schemas import SensorReading
from polystream_common.settings import PostgresSettings
from polystream_common.sink import SinkRecord
from sensor_consumer.postgres import PostgresSink

pytestmark = pytest.mark.integration


@pytest.fixture
async def sink(settings: PostgresSettings, schema: str) -> AsyncIterator[PostgresSink]:
    postgres = PostgresSink(settings, schema=schema)
    await postgres.setup()
    yield postgres
    await postgres.close()


def closed_port() -> int:
    """A port nothing listens on: bound once to get a free one, then let go."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_a_server_that_is_not_there_is_transient(settings: PostgresSettings) -> None:
    down = PostgresSink(settings.model_copy(update={"port": closed_port()}))
    with pytest.raises(Exception) as raised:
        await down.setup()
    assert isinstance(raised.value, OSError)
    assert down.is_transient(raised.value)


async def test_a_statement_timeout_is_transient(sink: PostgresSink) -> None:
    async with sink.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL statement_timeout = '50ms'")
        with pytest.raises(asyncpg.QueryCanceledError) as raised:
            await conn.execute("SELECT pg_sleep(5)")
    assert sink.is_transient(raised.value)


async def test_a_value_the_server_refuses_is_not_transient(sink: PostgresSink) -> None:
    """The server's own error for a NUL in text: retrying it would fail the same way forever.
    (The sink's write turns such a reading into a Rejection before it reaches the server.)"""
    async with sink.pool.acquire() as conn:
        with pytest.raises(asyncpg.PostgresError) as raised:
            await conn.execute(
                "INSERT INTO sensors (sensor_id, sensor_type, location, unit, first_seen,"
                " last_seen) VALUES ($1, 'co2', 'lab', 'ppm', now(), now())",
                "bad\x00id",
            )
    assert raised.value.sqlstate.startswith("22")  # data exception
    assert not sink.is_transient(raised.value)

    now = datetime.now(UTC)
    reading = SensorReading(
        event_id=uuid.uuid4(),
        event_time=now,
        sensor_id="bad\x00id",
        sensor_type="co2",
        location="lab",
        unit="ppm",
        value=1.0,
    )
    refused = await sink.write([SinkRecord(reading, "sensor.readings", 0, 7)])
    assert [r.error_class for r in refused] == ["PostgresRefused"]
