"""The consumer loop on the real broker with a sink slower than ``max.poll.interval.ms``: the loop
keeps polling while the write runs, so the member is never kicked out, and every record is
written exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence

import pytest
from confluent_kafka.admin import AdminClient
from pydantic import TypeAdapter

from polystream_common.kafka import EventProducer
from polystream_common.loop import Route
from polystream_common.runtime import KafkaClients, run_consumer
from polystream_common.schemas import SensorReading, utc_now
from polystream_common.settings import (
    ConsumerServiceSettings,
    ConsumerSettings,
    KafkaSettings,
    ProducerSettings,
)
from polystream_common.sink import PartitionAwareSink, TopicPartitionId
from polystream_common.testing import InMemorySink
from polystream_common.topics import Stream

pytestmark = pytest.mark.integration

MAX_POLL_INTERVAL_MS = 10_000
WRITE_SECONDS = 13.0  # each batch's write outlasts max.poll.interval.ms


class SlowPartitionAwareSink(InMemorySink, PartitionAwareSink):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__("slow", write_seconds=WRITE_SECONDS)
        self.assigned: list[TopicPartitionId] = []
        self.revoked: list[TopicPartitionId] = []

    async def on_assign(self, partitions: Sequence[TopicPartitionId]) -> None:
        self.assigned += partitions

    async def on_revoke(self, partitions: Sequence[TopicPartitionId]) -> None:
        self.revoked += partitions


@pytest.fixture
def stream(kafka_bootstrap: str) -> Iterator[Stream[SensorReading]]:
    name = f"it.slow.{uuid.uuid4().hex[:10]}"
    yield Stream(name, 2, "sensor_id", TypeAdapter(SensorReading))
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.delete_topics([name, f"{name}.dlq"]).values():
        future.result()


async def test_a_write_longer_than_max_poll_interval_keeps_the_membership_and_writes_once(
    kafka_bootstrap: str, stream: Stream[SensorReading]
) -> None:
    group = f"it-slow-{uuid.uuid4().hex[:8]}"
    settings = ConsumerServiceSettings(
        service_name=group,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        consumer=ConsumerSettings(
            group_id=group,
            batch_size=30,
            max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
            session_timeout_ms=6_000,
            statistics_interval_ms=0,
        ),
        instance_id="it",
    )
    clients = KafkaClients.real(settings)
    await asyncio.to_thread(clients.ensure_topics, [stream])
    producer = EventProducer.build(
        settings.kafka, ProducerSettings(linger_ms=1), client_id=group, service=group
    )
    events = [
        SensorReading(
            event_id=uuid.uuid4(),
            event_time=utc_now(),
            sensor_id=f"s-{i}",
            sensor_type="co2",
            location="l",
            unit="ppm",
            value=float(i),
        )
        for i in range(40)
    ]
    for event in events:
        producer.send(stream, event)
    producer.flush(30)

    sink, stop = SlowPartitionAwareSink(), asyncio.Event()

    async def stop_when_written() -> None:
        while len(sink.rows) < len(events):  # noqa: ASYNC110 (the sink is a plain fake)
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)  # let the last checkpoint land
        stop.set()

    watcher = asyncio.create_task(stop_when_written())
    await asyncio.wait_for(
        run_consumer(settings, [Route(stream, sink)], clients=clients, stop=stop), 120
    )
    await watcher
    assert sink.writes >= 2  # at least two writes, each longer than max.poll.interval.ms
    assert sink.written == len(events)  # no batch written twice: no rebalance took it away
    assert sorted(sink.assigned) == [(stream.topic, 0), (stream.topic, 1)]  # assigned once
    # Revoked once, at the close of the consumer, not while it worked.
    assert sorted(sink.revoked) == [(stream.topic, 0), (stream.topic, 1)]
