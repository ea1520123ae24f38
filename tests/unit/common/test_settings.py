from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from polystream_common.settings import (
    ConsumerServiceSettings,
    PostgresSettings,
)


class DemoSettings(ConsumerServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", env_nested_delimiter="__")

    service_name: str = "demo"
    postgres: PostgresSettings = PostgresSettings()


def test_defaults_are_fine_in_development() -> None:
    assert DemoSettings().postgres.uses_default_credentials()


def test_default_credentials_are_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEMO_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="default local-stack credentials"):
        DemoSettings()
    monkeypatch.setenv("DEMO_POSTGRES__PASSWORD", "a-real-secret")
    settings = DemoSettings()
    assert settings.postgres.password == SecretStr("a-real-secret")


def test_nested_env_and_masked_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_KAFKA__BOOTSTRAP_SERVERS", "broker:9092")
    monkeypatch.setenv("DEMO_CONSUMER__BATCH_SIZE", "42")
    settings = DemoSettings()
    assert settings.kafka.bootstrap_servers == "broker:9092"
    assert settings.consumer.batch_size == 42
    assert settings.consumer.group_id == "demo"  # defaults to the service name
    dumped = settings.model_dump(mode="json")
    assert dumped["postgres"]["password"] == "**********"
