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


def exit_status(argv: list[str]) -> int | str | None:
    """The status ``main(argv)`` exits with (a CLI always exits)."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return exited.value.code


def test_a_bad_mix_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(["load", "--count", "1", "--mix", "weather=1"]) == 2
    assert "unknown stream" in capsys.readouterr().err


def test_a_poison_rate_above_one_is_a_usage_error() -> None:
    assert exit_status(["load", "--count", "1", "--poison-rate", "2"]) == 2


def test_ingest_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    assert exit_status(["ingest", str(tmp_path / "nope.jsonl"), "--kind", "sensors"]) == 2


def test_ingest_of_an_unknown_kind_is_a_usage_error(tmp_path: Path) -> None:
    assert exit_status(["ingest", str(tmp_path / "x.jsonl"), "--kind", "weather"]) == 2


def test_load_needs_a_count_or_a_duration(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(["load"]) == 2
    assert "--count" in capsys.readouterr().err


def test_load_takes_a_count_or_a_duration_not_both() -> None:
    assert exit_status(["load", "--count", "1", "--duration", "1"]) == 2


def test_a_command_is_required() -> None:
    assert exit_status([]) == 2


def test_delete_product_needs_an_id() -> None:
    assert exit_status(["delete-product"]) == 2
