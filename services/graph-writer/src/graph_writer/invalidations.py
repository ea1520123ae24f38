"""Cache invalidations for recsys-api: which users' interactions changed in the graph.

Channel: the Kafka topic ``cache.invalidations`` (``polystream_common.topics.CACHE_INVALIDATIONS``,
keyed by user), not Redis directly: graph-writer then needs no cache client, recsys-api decides
what to drop (one replica or many), and Kafka already carries everything else between services.

Published by a sink *after* its Neo4j transaction commits, and awaited (the producer is flushed)
before the sink returns, so before the loop checkpoints the batch. A failed publish fails the
write as transient: the loop retries the batch, the watermarks make the graph skip it, and the
invalidations are published again, because they are computed from every record of the batch,
applied now or before. At least once, then; a duplicate only invalidates twice. An invalidation's
``event_id`` derives from the user's last record in the batch, so a redelivery repeats the same
ids and a consumer may drop duplicates by id.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from graph_writer.rows import target_of
from polystream_common.kafka import EventProducer, build_admin
from polystream_common.schemas import AnyUserEvent, CacheInvalidation, InvalidationReason
from polystream_common.settings import KafkaSettings, ProducerSettings
from polystream_common.sink import SinkRecord
from polystream_common.topics import CACHE_INVALIDATIONS, ensure_topics

INVALIDATION_NAMESPACE = uuid.UUID("5f0c54a4-1f0e-4a4e-9a53-3b9b7f1d2c61")


class InvalidationPublisher(Protocol):
    """Where invalidations go: Kafka in production, a list in tests."""

    async def setup(self) -> None: ...
    async def publish(self, invalidations: Sequence[CacheInvalidation]) -> None: ...
    async def close(self) -> None: ...


def invalidations_for(batch: Sequence[SinkRecord[AnyUserEvent]]) -> list[CacheInvalidation]:
    """One invalidation per user with an interaction in ``batch`` (skipped redeliveries
    included: see the module docstring), with the time of the user's latest one."""
    latest: dict[str, SinkRecord[AnyUserEvent]] = {}
    for record in batch:
        if target_of(record.value) is None:
            continue
        seen = latest.get(record.value.user_id)
        if seen is None or (record.partition, record.offset) > (seen.partition, seen.offset):
            latest[record.value.user_id] = record
    return [
        invalidation(
            user,
            "interactions_changed",
            f"{r.topic}/{r.partition}/{r.offset}",
            r.value.event_time,
        )
        for user, r in sorted(latest.items())
    ]


def invalidation(
    user_id: str, reason: InvalidationReason, cause: str, at: datetime
) -> CacheInvalidation:
    """An invalidation whose ``event_id`` is a function of ``user_id``, ``reason`` and ``cause``
    (the Kafka position that caused it): the same cause gives the same id."""
    return CacheInvalidation.model_validate(
        {
            "event_id": uuid.uuid5(INVALIDATION_NAMESPACE, f"{reason}:{cause}:{user_id}"),
            "event_time": at,
            "user_id": user_id,
            "reason": reason,
        }
    )


class KafkaInvalidationPublisher:
    """Publishes to ``cache.invalidations`` (under the settings' topic prefix) with an idempotent
    producer; :meth:`publish` returns once every record is acknowledged. Shared by the service's
    sinks: the first :meth:`setup` connects, the last :meth:`close` flushes and drops it."""

    def __init__(
        self, kafka: KafkaSettings, producer: ProducerSettings, service: str, timeout_s: float
    ) -> None:
        self._kafka = kafka
        self._settings = producer
        self._service = service
        self._timeout_s = timeout_s
        self._stream = CACHE_INVALIDATIONS.namespaced(kafka.topic_prefix)
        self._producer: EventProducer | None = None
        self._users = 0
        self._lock = asyncio.Lock()

    @property
    def topic(self) -> str:
        return self._stream.topic

    async def setup(self) -> None:
        async with self._lock:
            if self._producer is None:
                admin = build_admin(self._kafka)
                await asyncio.to_thread(ensure_topics, admin, [self._stream])
                self._producer = EventProducer.build(
                    self._kafka,
                    self._settings,
                    client_id=f"{self._service}-invalidations",
                    service=self._service,
                )
            self._users += 1

    async def publish(self, invalidations: Sequence[CacheInvalidation]) -> None:
        """Send and wait for the acknowledgements; raises ``DeliveryError`` if any failed."""
        if not invalidations:
            return
        producer = self._producer
        if producer is None:
            raise RuntimeError("KafkaInvalidationPublisher.setup() was not called")
        for item in invalidations:
            producer.send(self._stream, item)
        await asyncio.to_thread(producer.flush, self._timeout_s)

    async def close(self) -> None:
        async with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0 and self._producer is not None:
                producer, self._producer = self._producer, None
                await asyncio.to_thread(producer.flush, self._timeout_s)


class RecordingPublisher:
    """The fake: keeps what was published; ``fail_next`` publishes fail like a broker down."""

    def __init__(self, fail_next: int = 0) -> None:
        self.published: list[CacheInvalidation] = []
        self.fail_next = fail_next

    async def setup(self) -> None:
        return None

    async def publish(self, invalidations: Sequence[CacheInvalidation]) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("broker unavailable")
        self.published.extend(invalidations)

    async def close(self) -> None:
        return None
