"""Row mapping, batch dedupe, partition ranges, wiring and settings of sensor-consumer: no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from polystream_common.schemas import SensorReading
from polystream_common.sink import SinkRecord
from polystream_common.topics import SENSOR_READINGS
from sensor_consumer.bootstrap import bootstrap
from sensor_consumer.postgres import (
    PostgresSink,
    batch_rows,
    partition_bounds,
    partition_days,
    partition_ddl,
    partitions_to_create,
    refusal,
)
from sensor_consumer.settings import SensorConsumerSettings

T0 = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)


def reading(sensor: str, minutes: int, value: float = 1.0, **fields: str) -> SensorReading:
    values: dict[str, str] = {"sensor_type": "co2", "location": "lab", "unit": "ppm", **fields}
    return SensorReading(
        event_id=uuid.uuid4(),
        event_time=T0 + timedelta(minutes=minutes),
        sensor_id=sensor,
        value=value,
        **values,  # type: ignore[arg-type]
    )


def records(*readings: SensorReading) -> list[SinkRecord[SensorReading]]:
    return [SinkRecord(r, SENSOR_READINGS.topic, 0, i) for i, r in enumerate(readings)]


def test_a_reading_maps_to_one_row_in_column_order() -> None:
    r = reading("s1", 0, 21.5)
    assert batch_rows(records(r)).rows == [(r.event_id, r.event_time, "s1", 21.5)]


def test_row_times_are_the_same_instants_in_utc() -> None:
    local = datetime.fromisoformat("2026-11-22T01:00:00+02:00")
    r = reading("s1", 0).model_copy(update={"event_time": local})
    [(_, event_time, _, _)] = batch_rows(records(r)).rows
    assert event_time == local and event_time.tzinfo is UTC


def test_rows_are_deduplicated_within_a_batch() -> None:
    a, b = reading("s1", 0), reading("s1", 1)
    rows = batch_rows(records(a, b, a, b, a)).rows
    assert rows == [(a.event_id, a.event_time, "s1", 1.0), (b.event_id, b.event_time, "s1", 1.0)]


def test_sensor_columns_carry_first_and_last_seen_and_the_newest_description() -> None:
    batch = records(
        reading("s2", 1),
        reading("s1", 5, location="hall"),
        reading("s1", -3, location="lab"),
        reading("s1", 2, location="lab"),
    )
    ids, types, locations, units, first, last = batch_rows(batch).sensors
    assert ids == ["s1", "s2"]  # sorted: concurrent upserts lock rows in one order
    assert first == [T0 - timedelta(minutes=3), T0 + timedelta(minutes=1)]
    assert last == [T0 + timedelta(minutes=5), T0 + timedelta(minutes=1)]
    assert locations == ["hall", "lab"]
    assert types == ["co2", "co2"] and units == ["ppm", "ppm"]


def test_text_postgres_cannot_store_is_refused_for_good() -> None:
    assert refusal(reading("s1", 0)) is None
    assert "sensor_id" in (refusal(reading("s\x001", 0)) or "")
    assert "unit" in (refusal(reading("s1", 0, unit="p\x00pm")) or "")


def test_a_refused_reading_goes_back_for_the_dlq_and_the_rest_of_its_batch_is_written() -> None:
    good, bad = reading("s1", 0), reading("s2", 0, location="l\x00b")
    prepared = batch_rows(records(good, bad))
    assert [r.record.value for r in prepared.refused] == [bad]
    assert prepared.refused[0].error_class == "PostgresRefused"
    assert [row[0] for row in prepared.rows] == [good.event_id]
    assert prepared.sensors[0] == ["s1"]


def test_a_batch_of_refused_readings_only_writes_nothing() -> None:
    prepared = batch_rows(records(reading("s\x00", 0)))
    assert prepared.rows == [] and prepared.days == set() and len(prepared.refused) == 1


def test_a_batch_knows_the_utc_days_its_rows_need() -> None:
    assert batch_rows(records(reading("s1", 0), reading("s2", 20))).days == {date(2026, 11, 21)}
    across = records(reading("s1", 0), reading("s1", 40), reading("s2", 10))
    assert batch_rows(across).days == {date(2026, 11, 21), date(2026, 11, 22)}
    local = datetime.fromisoformat("2026-11-22T01:00:00+02:00")  # 2026-11-21 23:00 UTC
    r = reading("s1", 0).model_copy(update={"event_time": local})
    assert batch_rows(records(r)).days == {date(2026, 11, 21)}


def test_a_batch_across_midnight_needs_two_daily_partitions() -> None:
    days = partition_days([T0, T0 + timedelta(hours=1), T0.astimezone(UTC) + timedelta(minutes=5)])
    assert days == {date(2026, 11, 21), date(2026, 11, 22)}


def test_partition_days_are_utc_days() -> None:
    local = datetime.fromisoformat("2026-11-22T01:00:00+02:00")  # 2026-11-21 23:00 UTC
    assert partition_days([local]) == {date(2026, 11, 21)}


def test_a_day_partition_covers_utc_midnight_to_midnight() -> None:
    start, end = partition_bounds(date(2026, 12, 31))
    assert (start, end) == (datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    ddl = partition_ddl(date(2026, 12, 31))
    assert "IF NOT EXISTS sensor_readings_20261231 PARTITION OF sensor_readings" in ddl
    assert "FROM ('2026-12-31T00:00:00+00:00') TO ('2027-01-01T00:00:00+00:00')" in ddl


def test_missing_partitions_include_the_next_day_and_skip_known_ones() -> None:
    today = date(2026, 11, 22)
    days = {date(2026, 11, 20), date(2026, 11, 22)}
    known = {date(2026, 11, 22)}
    assert partitions_to_create(days, known, today, past_days=30, future_days=7) == [
        date(2026, 11, 20),
        date(2026, 11, 21),
        date(2026, 11, 23),
    ]
    known |= {date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 23)}
    assert partitions_to_create(days, known, today, past_days=30, future_days=7) == []


def test_days_outside_the_window_get_no_partition() -> None:
    today = date(2026, 11, 22)
    days = {date(2025, 1, 1), date(2026, 11, 29), date(9999, 12, 31)}
    # 2026-11-29 is the last day ahead allowed; its next day is not.
    assert partitions_to_create(days, set(), today, past_days=30, future_days=7) == [
        date(2026, 11, 29)
    ]


def test_bootstrap_routes_sensor_readings_to_postgres_without_connecting() -> None:
    routes = bootstrap(SensorConsumerSettings(postgres_schema="tenant_a"))
    assert [route.stream for route in routes] == [SENSOR_READINGS]
    assert isinstance(routes[0].sink, PostgresSink)
    with pytest.raises(RuntimeError, match="setup"):
        _ = routes[0].sink.pool


def test_settings_defaults() -> None:
    settings = SensorConsumerSettings()
    assert settings.service_name == "sensor-consumer"
    assert settings.metrics_port == 9102
    assert settings.consumer.group_id == "sensor-consumer"
    assert settings.postgres.port == 15432


def test_settings_read_nested_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSOR_CONSUMER_POSTGRES__HOST", "db.internal")
    monkeypatch.setenv("SENSOR_CONSUMER_CONSUMER__BATCH_SIZE", "2000")
    settings = SensorConsumerSettings()
    assert settings.postgres.host == "db.internal"
    assert settings.consumer.batch_size == 2000
    assert settings.consumer.group_id == "sensor-consumer"


def test_batches_stay_sized_for_copy_when_other_loop_settings_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENSOR_CONSUMER_CONSUMER__GROUP_ID", "bench-1")
    settings = SensorConsumerSettings()
    assert settings.consumer.group_id == "bench-1"
    assert settings.consumer.batch_size == 20_000


def test_default_credentials_are_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSOR_CONSUMER_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="postgres"):
        SensorConsumerSettings()
    monkeypatch.setenv("SENSOR_CONSUMER_POSTGRES__PASSWORD", "from-a-secret-store")
    settings = SensorConsumerSettings()
    assert "from-a-secret-store" not in str(settings.model_dump(mode="json"))


def test_a_schema_name_that_is_not_a_plain_identifier_is_refused() -> None:
    with pytest.raises(ValidationError):
        SensorConsumerSettings(postgres_schema='x"; DROP TABLE sensors; --')
