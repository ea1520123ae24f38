"""Settings from the environment, the DLQ decision and the command line, without a network.

The Quix Streams application itself is not built here: declaring its topics asks the broker
for their configuration. The e2e test runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aggregator.dead_letters import decode_or_reject
from aggregator.main import main
from aggregator.settings import AggregatorSettings

from polystream_common.dlq import (
    HEADER_ERROR_CLASS,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_TOPIC,
    DeadLetter,
)
from polystream_common.schemas import SensorReading
from polystream_common.topics import SENSOR_READINGS

GOOD = (
    b'{"event_id":"6f1c1f7e-7a39-4d62-9a7e-1d0c4d1f2a11","event_time":"2026-12-01T12:00:00Z",'
    b'"schema_version":1,"sensor_id":"s1","sensor_type":"co2","location":"lab","unit":"ppm",'
    b'"value":400.0}'
)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGGREGATOR_KAFKA__TOPIC_PREFIX", "t-1.")
    monkeypatch.setenv("AGGREGATOR_CONSUMER__GROUP_ID", "t-1.aggregator")
    monkeypatch.setenv("AGGREGATOR_POSTGRES_SCHEMA", "t_1")
    monkeypatch.setenv("AGGREGATOR_STATE_DIR", "/tmp/x")
    monkeypatch.setenv("AGGREGATOR_ENGAGEMENT__HALF_LIFE_S", "3600")
    monkeypatch.setenv("AGGREGATOR_INSTANCE_ID", "pod-0")
    settings = AggregatorSettings()
    assert settings.kafka.topic_prefix == "t-1."
    assert settings.consumer.group_id == "t-1.aggregator"
    assert settings.postgres_schema == "t_1"
    assert settings.state_dir == Path("/tmp/x")
    assert settings.engagement.half_life_s == 3600
    assert settings.transactional_id() == "t-1.aggregator.pod-0"


def test_defaults() -> None:
    settings = AggregatorSettings()
    assert settings.metrics_port == 9106
    assert settings.state_dir == Path(".stack/aggregator-state")
    assert settings.engagement.window_s == 60 and settings.sensors.window_s == 60
    assert settings.consumer.group_id == "aggregator"


def test_default_credentials_are_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGGREGATOR_ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="postgres"):
        AggregatorSettings()


def test_a_valid_record_decodes() -> None:
    reading = decode_or_reject(SENSOR_READINGS, GOOD, b"s1", 2, 7)
    assert isinstance(reading, SensorReading) and reading.value == 400.0


@pytest.mark.parametrize(
    ("raw", "error_class"),
    [
        (b"{not json", "InvalidJSON"),
        (GOOD.replace(b"400.0", b'"hot"'), "SchemaViolation"),
        (None, "NullValue"),
    ],
)
def test_an_invalid_record_becomes_a_dead_letter(raw: bytes | None, error_class: str) -> None:
    letter = decode_or_reject(SENSOR_READINGS.namespaced("ns."), raw, b"s1", 2, 7)
    assert isinstance(letter, DeadLetter)
    assert letter.dlq_topic == "ns.sensor.readings.dlq"
    assert letter.value == raw and letter.key == b"s1"
    headers = dict(letter.headers("aggregator"))
    assert headers[HEADER_TOPIC] == b"ns.sensor.readings"
    assert headers[HEADER_PARTITION] == b"2" and headers[HEADER_OFFSET] == b"7"
    assert headers[HEADER_ERROR_CLASS] == error_class.encode()


def test_help_exits_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "python -m aggregator" in capsys.readouterr().out
