"""The one place that picks sensor-consumer's concrete adapters."""

from __future__ import annotations

from typing import Any

from polystream_common.loop import Route
from polystream_common.topics import SENSOR_READINGS
from sensor_consumer.postgres import PostgresSink
from sensor_consumer.settings import SensorConsumerSettings


def bootstrap(settings: SensorConsumerSettings) -> list[Route[Any]]:
    """sensor.readings -> PostgreSQL."""
    sink = PostgresSink(
        settings.postgres,
        schema=settings.postgres_schema,
        partition_past_days=settings.partition_past_days,
        partition_future_days=settings.partition_future_days,
    )
    return [Route(SENSOR_READINGS, sink)]
