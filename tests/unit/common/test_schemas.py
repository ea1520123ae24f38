"""Strict parsing: what the consumers accept and what they send to the DLQ."""

from __future__ import annotations

import json
import uuid

import pytest

from polystream_common.codec import InvalidRecord, decode_record
from polystream_common.schemas import SensorReading, UserEventV1, UserEventV2, utc_now
from polystream_common.topics import CHAT_MESSAGES, PRODUCTS, SENSOR_READINGS, USER_EVENTS


def reading(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "event_id": str(uuid.uuid4()),
        "event_time": "2026-11-22T10:00:00+00:00",
        "schema_version": 1,
        "sensor_id": "s-1",
        "sensor_type": "temperature",
        "location": "plant-a",
        "unit": "C",
        "value": 21.5,
    }
    record.update(overrides)
    return record


def test_valid_reading_round_trips() -> None:
    event = SensorReading(
        event_id=uuid.uuid4(),
        event_time=utc_now(),
        sensor_id="s-1",
        sensor_type="humidity",
        location="plant-a",
        unit="%",
        value=40.0,
    )
    assert SENSOR_READINGS.decode(SENSOR_READINGS.encode(event)) == event
    assert event.key() == b"s-1"


@pytest.mark.parametrize(
    ("raw", "error_class"),
    [
        (b"{not json", "InvalidJSON"),
        (b"", "InvalidJSON"),
        (json.dumps(reading(value="hot")).encode(), "SchemaViolation"),
        (json.dumps(reading(value=float("nan"))).encode(), "SchemaViolation"),
        (json.dumps(reading(event_id=12345)).encode(), "SchemaViolation"),
        (json.dumps(reading(sensor_type="laser")).encode(), "SchemaViolation"),
        (json.dumps(reading(event_time="2026-11-22T10:00:00")).encode(), "SchemaViolation"),
        (json.dumps(reading(extra_field=1)).encode(), "SchemaViolation"),
        (json.dumps(reading(schema_version=9)).encode(), "SchemaViolation"),
        (None, "NullValue"),
    ],
)
def test_bad_records_are_rejected_with_their_kind(raw: bytes | None, error_class: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        decode_record(SENSOR_READINGS, raw)
    assert info.value.error_class == error_class
    assert info.value.message


def test_string_number_is_a_wrong_type_not_coerced() -> None:
    with pytest.raises(InvalidRecord):
        decode_record(SENSOR_READINGS, json.dumps(reading(value="21.5")).encode())


def test_user_event_versions_are_picked_by_schema_version() -> None:
    base = {
        "event_id": str(uuid.uuid4()),
        "event_time": "2026-11-22T10:00:00Z",
        "user_id": "u-1",
        "session_id": "sess-1",
        "event_type": "view",
        "product_id": "p-1",
    }
    v1 = USER_EVENTS.decode(json.dumps({**base, "schema_version": 1}).encode())
    v2 = USER_EVENTS.decode(json.dumps({**base, "schema_version": 2, "device": "ios"}).encode())
    assert type(v1) is UserEventV1
    assert type(v2) is UserEventV2 and v2.device == "ios"
    with pytest.raises(InvalidRecord):  # the v2 field is unknown to v1
        decode_record(
            USER_EVENTS, json.dumps({**base, "schema_version": 1, "device": "ios"}).encode()
        )
    with pytest.raises(InvalidRecord):  # unknown event types are rejected
        decode_record(
            USER_EVENTS, json.dumps({**base, "schema_version": 1, "event_type": "hover"}).encode()
        )


def test_streams_have_keys_and_dlq_topics() -> None:
    for stream in (SENSOR_READINGS, USER_EVENTS, CHAT_MESSAGES, PRODUCTS):
        assert stream.dlq_topic == f"{stream.topic}.dlq"
        assert stream.partitions >= 1
