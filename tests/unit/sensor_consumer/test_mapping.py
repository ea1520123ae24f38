"""Row mapping, partition ranges and settings of sensor-consumer: no database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from polystream_common.schemas import SensorReading
from sensor_consumer.postgres import partition_days, partition_ddl, rows_for, sensor_columns
from sensor_consumer.settings import SensorConsumerSettings

T0 = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)


def reading(sensor: str, minutes: int, value: float = 1.0) -> SensorReading:
    return SensorReading(
        event_id=uuid.uuid4(),
        event_time=T0 + timedelta(minutes=minutes),
        sensor_id=sensor,
        sensor_type="co2",
        location="lab",
        unit="ppm",
        value=value,
    )


def test_rows_are_deduplicated_within_a_batch() -> None:
    a, b = reading("s1", 0), reading("s1", 1)
    rows = rows_for([a, b, a])
    assert rows == [(a.event_id, a.event_time, "s1", 1.0), (b.event_id, b.event_time, "s1", 1.0)]


def test_sensor_columns_carry_first_and_last_seen_per_sensor() -> None:
    batch = [reading("s1", 5), reading("s2", 1), reading("s1", -3), reading("s1", 2)]
    ids, types, locations, units, first, last = sensor_columns(batch)
    assert ids == ["s1", "s2"]
    assert first == [T0 - timedelta(minutes=3), T0 + timedelta(minutes=1)]
    assert last == [T0 + timedelta(minutes=5), T0 + timedelta(minutes=1)]
    assert types == ["co2", "co2"] and units == ["ppm", "ppm"] and locations == ["lab", "lab"]


def test_a_batch_across_midnight_needs_two_daily_partitions() -> None:
    days = partition_days([T0, T0 + timedelta(hours=1)])
    assert days == {date(2026, 11, 21), date(2026, 11, 22)}
    ddl = partition_ddl(date(2026, 11, 21))
    assert "sensor_readings_20261121" in ddl
    assert "FROM ('2026-11-21T00:00:00+00:00') TO ('2026-11-22T00:00:00+00:00')" in ddl


def test_default_credentials_are_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSOR_CONSUMER_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="postgres"):
        SensorConsumerSettings()
    monkeypatch.setenv("SENSOR_CONSUMER_POSTGRES__PASSWORD", "from-a-secret-store")
    assert SensorConsumerSettings().consumer.group_id == "sensor-consumer"
