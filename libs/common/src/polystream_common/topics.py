"""The topic registry: each stream's topic, partition count, key, schema, dead-letter topic, and
what a null value (a tombstone) means on it.

Streams keyed by the same entity are co-partitioned (same partition count, same key, librdkafka's
default partitioner): partition *p* of ``user.events`` and partition *p* of ``chat.messages`` hold
the same users, so one consumer owns all of a user's records and can keep per-user state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewPartitions, NewTopic
from pydantic import TypeAdapter

from polystream_common.schemas import (
    AnyUserEvent,
    CacheInvalidation,
    ChatMessage,
    Event,
    OrderPlaced,
    Product,
    SensorReading,
    UserEvent,
)

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Tombstone = Literal["poison", "delete"]


@dataclass(frozen=True)
class Stream(Generic[E]):
    """One stream: where it lives in Kafka and how its records are encoded and decoded."""

    topic: str
    partitions: int
    key_field: str
    schema: TypeAdapter[E]
    config: Mapping[str, str] = field(default_factory=dict)
    tombstone: Tombstone = "poison"
    """What a null value means: ``"delete"`` on a compacted table (the key's entity is gone from
    every store), ``"poison"`` on an event stream (it goes to the DLQ)."""

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}.dlq"

    def namespaced(self, prefix: str) -> Stream[E]:
        """The same stream under topic ``prefix + topic`` (its DLQ follows)."""
        return replace(self, topic=f"{prefix}{self.topic}") if prefix else self

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
# Co-partitioned with user.events (same key, same partition count): see the module docstring.
CHAT_MESSAGES: Stream[ChatMessage] = Stream("chat.messages", 6, "user_id", TypeAdapter(ChatMessage))
# The catalog is a table: compaction keeps the latest record of each product, and a tombstone
# (null value) deletes the product.
PRODUCTS: Stream[Product] = Stream(
    "products.catalog",
    3,
    "product_id",
    TypeAdapter(Product),
    {"cleanup.policy": "compact"},
    tombstone="delete",
)

STREAMS: tuple[Stream[Any], ...] = (SENSOR_READINGS, USER_EVENTS, CHAT_MESSAGES, PRODUCTS)
STREAMS_BY_TOPIC: Mapping[str, Stream[Any]] = {s.topic: s for s in STREAMS}

# Derived, not one of the four input streams (so not in STREAMS): graph-writer tells recsys-api
# which users' cached recommendations are stale. Keyed by user like user.events; a consumer reads
# it from the latest offset, and a duplicate is harmless.
CACHE_INVALIDATIONS: Stream[CacheInvalidation] = Stream(
    "cache.invalidations",
    6,
    "user_id",
    TypeAdapter(CacheInvalidation),
    {"retention.ms": str(24 * 3600 * 1000)},
)

# Derived: shop-api's outbox relay publishes one record per committed order, at least once,
# keyed by order id (consumers dedupe by it).
ORDER_PLACED: Stream[OrderPlaced] = Stream("order.placed", 3, "order_id", TypeAdapter(OrderPlaced))

DLQ_RETENTION_MS = str(14 * 24 * 3600 * 1000)


def ensure_topics(
    admin: AdminClient,
    streams: Iterable[Stream[Any]] = STREAMS,
    *,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
) -> None:
    """Create each stream's topic and its DLQ topic if missing, and add partitions to a topic that
    has fewer than its stream declares (an older deployment). Safe to call from every service.

    Adding partitions moves keys to new partitions: records of a key written before stay where
    they were, so per-key order holds only from then on. It is logged loudly."""
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
    existing = admin.list_topics(timeout=timeout_s).topics
    _grow_partitions(admin, streams, existing, timeout_s)
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


def _grow_partitions(
    admin: AdminClient,
    streams: Iterable[Stream[Any]],
    existing: Mapping[str, Any],
    timeout_s: float,
) -> None:
    grow = [
        NewPartitions(s.topic, s.partitions)
        for s in streams
        if s.topic in existing and len(existing[s.topic].partitions) < s.partitions
    ]
    if not grow:
        return
    for topic, future in admin.create_partitions(grow, request_timeout=timeout_s).items():
        try:
            future.result()
        except KafkaException as exc:
            # Another service grew it first (or this broker's metadata was stale): done.
            if exc.args[0].code() != KafkaError.INVALID_PARTITIONS:
                raise
            continue
        log.warning(
            "added partitions to a topic: keys written before keep their old partition",
            extra={"topic": topic},
        )
