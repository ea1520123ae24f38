"""Settings of sensor-consumer (env prefix ``SENSOR_CONSUMER_``, nested with ``__``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from polystream_common.settings import ConsumerServiceSettings, ConsumerSettings, PostgresSettings


class SensorLoopSettings(ConsumerSettings):
    """The consumer loop's settings, with batches sized for COPY: each batch pays fixed costs
    (the checkpoint's Kafka transaction, the sensors upsert, a database transaction) that 20k
    rows share better than 5k, measured about 14% more rows/s. Memory stays bounded: a batch
    never holds more than ``batch_size`` records."""

    batch_size: int = Field(default=20_000, ge=1)


class SensorConsumerSettings(ConsumerServiceSettings):
    """sensor.readings -> PostgreSQL. E.g. ``SENSOR_CONSUMER_POSTGRES__HOST=db``."""

    model_config = SettingsConfigDict(
        env_prefix="SENSOR_CONSUMER_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: str = "sensor-consumer"
    metrics_port: int = Field(default=9102, ge=0, le=65535)
    # A class, not just a default instance: a partial SENSOR_CONSUMER_CONSUMER__* environment
    # replaces a default instance whole, and would bring back the shared batch size.
    consumer: SensorLoopSettings = SensorLoopSettings(group_id="sensor-consumer")
    postgres: PostgresSettings = PostgresSettings()
    postgres_schema: str = Field(
        default="public",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="schema holding the tables (created if missing)",
    )
    partition_past_days: int = Field(
        default=400,
        ge=0,
        description="daily partitions are made on demand for readings up to this many days old;"
        " older ones go to the DEFAULT partition",
    )
    partition_future_days: int = Field(
        default=7,
        ge=1,
        description="likewise for readings ahead of now (skewed device clocks): a bogus far-future"
        " time must not create a partition per day",
    )
