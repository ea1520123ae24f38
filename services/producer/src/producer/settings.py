"""Settings of the producer service (env prefix ``PRODUCER_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from polystream_common.settings import ProducerSettings, ServiceSettings


class ProducerServiceSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PRODUCER_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: str = "producer"
    metrics_port: int = 9101
    producer: ProducerSettings = ProducerSettings()
