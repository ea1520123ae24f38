"""Factories for confluent-kafka clients, so librdkafka options live in one typed place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient

from polystream_common.metrics import ProducerMetrics
from polystream_common.schemas import Event
from polystream_common.settings import ConsumerSettings, KafkaSettings, ProducerSettings
from polystream_common.topics import Stream

log = logging.getLogger(__name__)


class DeliveryError(RuntimeError):
    """Raised by :meth:`EventProducer.flush` when records were not delivered."""


def build_admin(kafka: KafkaSettings) -> AdminClient:
    return AdminClient(kafka.client_config())


def producer_config(
    kafka: KafkaSettings, producer: ProducerSettings, client_id: str
) -> dict[str, Any]:
    """Idempotent producer: acks=all, no reordering on retry, no duplicates from retries."""
    return {
        **kafka.client_config(),
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": producer.linger_ms,
        "batch.size": producer.batch_size_bytes,
        "compression.type": producer.compression,
        "queue.buffering.max.messages": producer.queue_max_messages,
        "delivery.timeout.ms": producer.delivery_timeout_ms,
    }


def transactional_producer_config(
    kafka: KafkaSettings, producer: ProducerSettings, client_id: str, transactional_id: str
) -> dict[str, Any]:
    """The checkpoint's producer: idempotent, bound to ``transactional_id`` (stable per replica,
    so a restarted replica fences its dead predecessor and aborts what it left open)."""
    return {
        **producer_config(kafka, producer, client_id),
        "transactional.id": transactional_id,
        # A transaction must outlive its records' delivery timeout.
        "delivery.timeout.ms": 30_000,
        "transaction.timeout.ms": 60_000,
    }


def consumer_config(
    kafka: KafkaSettings,
    consumer: ConsumerSettings,
    client_id: str,
    stats_cb: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Manual commits after the sink's write; a bounded fetch queue keeps memory flat."""
    config: dict[str, Any] = {
        **kafka.client_config(),
        "client.id": client_id,
        "group.id": consumer.group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": consumer.auto_offset_reset,
        "max.poll.interval.ms": consumer.max_poll_interval_ms,
        "session.timeout.ms": consumer.session_timeout_ms,
        "queued.max.messages.kbytes": consumer.queued_max_messages_kbytes,
        "enable.partition.eof": False,
    }
    if stats_cb is not None and consumer.statistics_interval_ms:
        config["statistics.interval.ms"] = consumer.statistics_interval_ms
        config["stats_cb"] = stats_cb
    return config


def build_consumer(
    kafka: KafkaSettings,
    consumer: ConsumerSettings,
    client_id: str,
    stats_cb: Callable[[str], None] | None = None,
) -> Consumer:
    return Consumer(consumer_config(kafka, consumer, client_id, stats_cb))


DeliveryListener = Callable[[KafkaError | None, Message], None]


class EventProducer:
    """An idempotent producer of events.

    Delivery results feed metrics; failures are kept and raised by :meth:`flush`, never
    swallowed. One bound callback serves every record (a closure per record costs throughput).
    """

    def __init__(
        self,
        producer: Producer,
        metrics: ProducerMetrics,
        listener: DeliveryListener | None = None,
    ) -> None:
        self._producer = producer
        self._metrics = metrics
        self._listener = listener
        self.delivered = 0
        self.failed: list[tuple[str, KafkaError]] = []

    @classmethod
    def build(
        cls,
        kafka: KafkaSettings,
        settings: ProducerSettings,
        *,
        client_id: str,
        service: str,
        listener: DeliveryListener | None = None,
    ) -> EventProducer:
        config = producer_config(kafka, settings, client_id)
        return cls(Producer(config), ProducerMetrics(service), listener)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        topic = msg.topic() or ""
        if err is None:
            self.delivered += 1
            self._metrics.delivered(topic, msg.latency() or 0.0)
        else:
            self.failed.append((topic, err))
            self._metrics.failed(topic, err.name())
            log.error("delivery failed", extra={"topic": topic, "error": err.str()})
        if self._listener is not None:
            self._listener(err, msg)

    def send(self, stream: Stream[Any], event: Event) -> None:
        self.send_raw(stream.topic, event.key(), stream.encode(event))

    def send_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        """Queue one record, serving callbacks while the local queue is full (backpressure)."""
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key, headers=headers, on_delivery=self._on_delivery
                )
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def poll(self, timeout: float = 0) -> int:
        return int(self._producer.poll(timeout))

    def flush(self, timeout: float = 60.0) -> None:
        """Wait for every queued record; raise :class:`DeliveryError` if any was not delivered."""
        remaining = self._producer.flush(timeout)
        if remaining:
            raise DeliveryError(f"{remaining} records still undelivered after {timeout}s")
        if self.failed:
            failed, self.failed = self.failed, []
            topic, err = failed[0]
            raise DeliveryError(
                f"{len(failed)} records failed delivery; first: {topic}: {err.str()}"
            )

    def __len__(self) -> int:
        return len(self._producer)
