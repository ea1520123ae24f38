"""libs/common against the real Kafka broker of the local stack: topic creation, the idempotent
producer's delivery reports, and the transactional checkpoint (dead letters and offsets commit
together or not at all)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from pydantic import TypeAdapter

from polystream_common.checkpoint import KafkaTransactionalCheckpoint
from polystream_common.dlq import HEADER_ERROR_CLASS, HEADER_OFFSET, HEADER_TOPIC, DeadLetter
from polystream_common.kafka import DeliveryError, EventProducer, transactional_producer_config
from polystream_common.metrics import PRODUCE_ERRORS, PRODUCED
from polystream_common.schemas import SensorReading
from polystream_common.settings import KafkaSettings, ProducerSettings
from polystream_common.topics import Stream, ensure_topics

pytestmark = pytest.mark.integration


@pytest.fixture
def stream(kafka_bootstrap: str) -> Iterator[Stream[SensorReading]]:
    """A stream with topics of its own (and its DLQ), deleted after the test."""
    name = f"it.{uuid.uuid4().hex[:10]}"
    yield Stream(name, 2, "sensor_id", TypeAdapter(SensorReading))
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [t for t in (name, f"{name}.dlq") if t in existing]
    if doomed:
        for future in admin.delete_topics(doomed).values():
            future.result()


def read_committed(bootstrap: str, topic: str, partitions: int, expect: int) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"it-read-{uuid.uuid4()}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    records: list[Any] = []
    try:
        for _ in range(10):
            records += [m for m in consumer.consume(100, 1.0) if m.error() is None]
            if len(records) > expect:
                break
    finally:
        consumer.close()
    return records


def test_ensure_topics_creates_each_stream_and_its_dlq_once(
    kafka_bootstrap: str, stream: Stream[SensorReading]
) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    ensure_topics(admin, [stream])
    ensure_topics(admin, [stream])  # a second service starting: nothing to do, no error
    topics = admin.list_topics(timeout=10).topics
    assert len(topics[stream.topic].partitions) == 2
    assert len(topics[stream.dlq_topic].partitions) == 1


def test_the_producer_reports_deliveries_and_surfaces_failures(
    kafka_bootstrap: str, stream: Stream[SensorReading]
) -> None:
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), [stream])
    service = f"it-{uuid.uuid4().hex[:6]}"
    producer = EventProducer.build(
        KafkaSettings(bootstrap_servers=kafka_bootstrap),
        ProducerSettings(linger_ms=1, delivery_timeout_ms=3_000),
        client_id=service,
        service=service,
    )
    for i in range(10):
        producer.send_raw(stream.topic, f"k{i}".encode(), b"{}")
    producer.flush(30)
    assert producer.delivered == 10
    assert PRODUCED.labels(service, stream.topic)._value.get() == 10

    # The broker does not create topics on demand: this delivery fails, and flush() says so.
    missing = f"{stream.topic}.missing"
    producer.send_raw(missing, b"k", b"{}")
    with pytest.raises(DeliveryError, match="1 records failed delivery"):
        producer.flush(30)
    errors = sum(
        sample.value
        for metric in PRODUCE_ERRORS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["service"] == service
    )
    assert errors == 1


def transactional_config(bootstrap: str, transactional_id: str) -> dict[str, Any]:
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    return transactional_producer_config(kafka, ProducerSettings(), "it", transactional_id)


def checkpoint_for(bootstrap: str, group: str) -> tuple[KafkaTransactionalCheckpoint, Consumer]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    producer = Producer(transactional_config(bootstrap, f"{group}.it"))
    checkpoint = KafkaTransactionalCheckpoint(producer, consumer, "it-service")
    checkpoint.init()
    return checkpoint, consumer


def test_the_checkpoint_commits_dead_letters_and_offsets_together(
    kafka_bootstrap: str, stream: Stream[SensorReading]
) -> None:
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), [stream])
    group = f"it-group-{uuid.uuid4().hex[:8]}"
    checkpoint, consumer = checkpoint_for(kafka_bootstrap, group)
    letters = [
        DeadLetter(stream.dlq_topic, stream.topic, 1, 40 + i, b"k", b"{bad", "InvalidJSON", "x")
        for i in range(3)
    ]
    try:
        checkpoint.commit(letters, [TopicPartition(stream.topic, 1, 43)], timeout_s=30)
    finally:
        consumer.close()

    dlq = read_committed(kafka_bootstrap, stream.dlq_topic, 1, 3)
    assert len(dlq) == 3
    headers = [dict(m.headers()) for m in dlq]
    assert [h[HEADER_OFFSET] for h in headers] == [b"40", b"41", b"42"]
    assert {h[HEADER_TOPIC] for h in headers} == {stream.topic.encode()}
    assert {h[HEADER_ERROR_CLASS] for h in headers} == {b"InvalidJSON"}
    reader = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    try:
        committed = reader.committed([TopicPartition(stream.topic, 1)], timeout=10)
    finally:
        reader.close()
    assert committed[0].offset == 43


def test_a_restarted_instance_aborts_what_a_dead_one_left_open(
    kafka_bootstrap: str, stream: Stream[SensorReading]
) -> None:
    """The crash case: dead letters produced in a transaction that never committed stay
    invisible, and the next instance with the same transactional.id fences and aborts it."""
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), [stream])
    group = f"it-group-{uuid.uuid4().hex[:8]}"
    dead = Producer(transactional_config(kafka_bootstrap, f"{group}.it"))
    dead.init_transactions(30)
    dead.begin_transaction()
    dead.produce(stream.dlq_topic, value=b"{bad", key=b"k")
    dead.flush(10)  # on the broker, but uncommitted: then the process "dies"

    checkpoint, consumer = checkpoint_for(kafka_bootstrap, group)  # fences the dead one
    try:
        letter = DeadLetter(stream.dlq_topic, stream.topic, 0, 7, b"k", b"{", "InvalidJSON", "x")
        checkpoint.commit([letter], [TopicPartition(stream.topic, 0, 8)], timeout_s=30)
    finally:
        consumer.close()
    # Only the new letter: had the dead transaction stayed open, nothing would be readable past
    # it (read_committed stops at the open transaction); had it committed, there would be two.
    dlq = read_committed(kafka_bootstrap, stream.dlq_topic, 1, 1)
    assert [dict(m.headers())[HEADER_OFFSET] for m in dlq] == [b"7"]


def test_ensure_topics_adds_partitions_to_a_topic_created_with_fewer(
    kafka_bootstrap: str, stream: Stream[SensorReading]
) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    ensure_topics(admin, [stream])
    wider = Stream(stream.topic, 4, stream.key_field, stream.schema)  # a newer release's registry
    ensure_topics(admin, [wider])

    def partitions() -> int:
        return len(admin.list_topics(stream.topic, timeout=10).topics[stream.topic].partitions)

    # The controller has the new partitions once ensure_topics returns; the broker's metadata
    # cache follows a moment later.
    deadline = time.monotonic() + 15
    while partitions() != 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert partitions() == 4
    ensure_topics(admin, [wider])  # already wide enough: nothing to do, no error
