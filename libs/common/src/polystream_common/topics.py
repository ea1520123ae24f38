"""The topic registry: each stream's topic, partition count, key, schema and dead-letter topic."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from pydantic import TypeAdapter

from polystream_common.schemas import (
    AnyUserEvent,
    ChatMessage,
    Event,
    Product,
    SensorReading,
    UserEvent,
)

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class Stream(Generic[E]):
    """One stream: where it lives in Kafka and how its records are encoded and decoded."""

    topic: str
    partitions: int
    key_field: str
    schema: TypeAdapter[E]
    config: Mapping[str, str] = field(default_factory=dict)

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}.dlq"

    def decode(self, raw: bytes) -> E:
        """Parse one record strictly; raises ``pydantic.ValidationError`` (malformed JSON too)."""
        return self.schema.validate_json(raw, strict=True)

    @staticmethod
    def encode(event: Event) -> bytes:
        return event.model_dump_json().encode()


SENSOR_READINGS: Stream[SensorReading] = Stream(
    "sensor.readings", 6, "sensor_id", TypeAdapter(SensorReading)
)
USER_EVENTS: Stream[AnyUserEvent] = Stream(
    "user.events", 6, "user_id", TypeAdapter[AnyUserEvent](UserEvent)
)
CHAT_MESSAGES: Stream[ChatMessage] = Stream("chat.messages", 3, "user_id", TypeAdapter(ChatMessage))
# The catalog is a table: compaction keeps the latest record of each product.
PRODUCTS: Stream[Product] = Stream(
    "products.catalog", 3, "product_id", TypeAdapter(Product), {"cleanup.policy": "compact"}
)

STREAMS: tuple[Stream[Any], ...] = (SENSOR_READINGS, USER_EVENTS, CHAT_MESSAGES, PRODUCTS)
STREAMS_BY_TOPIC: Mapping[str, Stream[Any]] = {s.topic: s for s in STREAMS}

DLQ_RETENTION_MS = str(14 * 24 * 3600 * 1000)


def ensure_topics(
    admin: AdminClient,
    streams: Iterable[Stream[Any]] = STREAMS,
    *,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
) -> None:
    """Create each stream's topic and its DLQ topic if missing. Safe to call from every service."""
    wanted: list[NewTopic] = []
    for stream in streams:
        wanted.append(
            NewTopic(
                stream.topic,
                num_partitions=stream.partitions,
                replication_factor=replication_factor,
                config=dict(stream.config),
            )
        )
        wanted.append(
            NewTopic(
                stream.dlq_topic,
                num_partitions=1,
                replication_factor=replication_factor,
                config={"retention.ms": DLQ_RETENTION_MS},
            )
        )
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    missing = [t for t in wanted if t.topic not in existing]
    if not missing:
        return
    for topic, future in admin.create_topics(missing, request_timeout=timeout_s).items():
        try:
            future.result()
            log.info("created topic", extra={"topic": topic})
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
