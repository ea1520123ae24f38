"""The command line and settings, without touching Kafka."""

from __future__ import annotations

from pathlib import Path

import pytest

from producer.main import main
from producer.settings import ProducerServiceSettings


def test_settings_defaults_and_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ProducerServiceSettings()
    assert (settings.service_name, settings.metrics_port, settings.rate) == ("producer", 9101, 200)
    monkeypatch.setenv("PRODUCER_RATE", "50")
    monkeypatch.setenv("PRODUCER_PRODUCER__LINGER_MS", "5")
    monkeypatch.setenv("PRODUCER_KAFKA__BOOTSTRAP_SERVERS", "kafka:9092")
    settings = ProducerServiceSettings()
    assert settings.rate == 50 and settings.producer.linger_ms == 5
    assert settings.kafka.bootstrap_servers == "kafka:9092"


def test_a_bad_mix_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "--count", "1", "--mix", "weather=1"]) == 2
    assert "unknown stream" in capsys.readouterr().err


def test_a_poison_rate_above_one_is_a_usage_error() -> None:
    assert main(["load", "--count", "1", "--poison-rate", "2"]) == 2


def test_ingest_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["ingest", str(tmp_path / "nope.jsonl"), "--kind", "sensors"]) == 2


def test_load_needs_a_count_or_a_duration() -> None:
    with pytest.raises(SystemExit):
        main(["load"])
