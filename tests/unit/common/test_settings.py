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


class ReaderSettings(ConsumerServiceSettings):
    model_config = SettingsConfigDict(env_prefix="READER_")

    service_name: str = "reader"
    postgres: PostgresSettings = PostgresSettings(port=25432, pool_max_size=9)


def test_one_nested_variable_keeps_the_rest_of_the_declared_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """READER_POSTGRES__HOST alone changes the host and keeps the port and pool this service
    declares, not the PostgresSettings type's (a service's own defaults, such as recsys-api's
    Bounded Milvus reads, must survive a deployment that only sets the address)."""
    monkeypatch.setenv("READER_POSTGRES__HOST", "db.internal")
    postgres = ReaderSettings().postgres
    assert (postgres.host, postgres.port, postgres.pool_max_size) == ("db.internal", 25432, 9)
    assert ReaderSettings().dlq_producer.linger_ms == 5  # the base's own declared default
