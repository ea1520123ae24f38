"""Settings of event-consumer (env prefix ``EVENT_CONSUMER_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from polystream_common.settings import ConsumerServiceSettings, MongoSettings


class EventConsumerSettings(ConsumerServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="EVENT_CONSUMER_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: str = "event-consumer"
    metrics_port: int = 9103
    mongo: MongoSettings = MongoSettings()
    mongo_timeout_ms: int = Field(
        default=10_000,
        ge=100,
        description="server selection and socket timeout: a write stuck longer fails the batch",
    )
