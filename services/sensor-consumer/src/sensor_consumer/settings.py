"""Settings of sensor-consumer (env prefix ``SENSOR_CONSUMER_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from polystream_common.settings import ConsumerServiceSettings, PostgresSettings


class SensorConsumerSettings(ConsumerServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SENSOR_CONSUMER_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: str = "sensor-consumer"
    metrics_port: int = 9102
    postgres: PostgresSettings = PostgresSettings()
