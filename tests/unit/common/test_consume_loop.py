"""The consumer loop against the in-memory sink and a fake consumer: no network."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from polystream_common.loop import ConsumeLoop, Route
from polystream_common.metrics import CONSUMER_PAUSED, ConsumerMetrics
from polystream_common.schemas import SensorReading, utc_now
from polystream_common.settings import ConsumerSettings
from polystream_common.testing import FakeConsumer, InMemorySink, RecordingDeadLetters
from polystream_common.topics import SENSOR_READINGS

TOPIC = SENSOR_READINGS.topic
SETTINGS = ConsumerSettings(group_id="t", batch_size=7, backoff_initial_s=0.001, backoff_max_s=0.01)


def valid(n: int) -> list[SensorReading]:
    return [
        SensorReading(
            event_id=uuid.uuid4(),
            event_time=utc_now(),
            sensor_id=f"s-{i % 3}",
            sensor_type="temperature",
            location="plant-a",
            unit="C",
            value=float(i),
        )
        for i in range(n)
    ]


def encoded(events: list[SensorReading]) -> list[bytes | None]:
    return [SENSOR_READINGS.encode(e) for e in events]


def make_loop(
    consumer: FakeConsumer, sink: InMemorySink, letters: RecordingDeadLetters, service: str = "t"
) -> ConsumeLoop:
    loop = ConsumeLoop(
        consumer, [Route(SENSOR_READINGS, sink)], letters, SETTINGS, ConsumerMetrics(service)
    )
    consumer.stop_when_drained = loop.stop
    return loop


async def run(loop: ConsumeLoop) -> None:
    await asyncio.wait_for(loop.run(), timeout=10)


async def test_every_valid_record_is_written_and_offsets_committed_after() -> None:
    events = valid(20)
    consumer = FakeConsumer({(TOPIC, 0): encoded(events[:12]), (TOPIC, 1): encoded(events[12:])})
    sink, letters = InMemorySink(), RecordingDeadLetters()
    await run(make_loop(consumer, sink, letters))
    assert set(sink.rows) == {e.event_id for e in events}
    assert consumer.committed == {(TOPIC, 0): 12, (TOPIC, 1): 8}
    assert letters.sent == []
    assert consumer.closed


async def test_poison_goes_to_the_dlq_with_origin_and_error_and_the_loop_goes_on() -> None:
    events = valid(10)
    poison: list[bytes | None] = [
        b"{broken",
        json.dumps({"event_id": 1}).encode(),
        None,
    ]
    log = encoded(events[:5]) + poison + encoded(events[5:])
    consumer = FakeConsumer({(TOPIC, 0): log})
    sink, letters = InMemorySink(), RecordingDeadLetters()
    await run(make_loop(consumer, sink, letters))

    assert len(sink.rows) == 10
    assert [(d.offset, d.error_class) for d in letters.flushed] == [
        (5, "InvalidJSON"),
        (6, "SchemaViolation"),
        (7, "NullValue"),
    ]
    headers = dict(letters.flushed[0].headers("sensor-consumer"))
    assert headers["dlq.origin.topic"] == TOPIC.encode()
    assert headers["dlq.origin.partition"] == b"0"
    assert headers["dlq.origin.offset"] == b"5"
    assert headers["dlq.error.class"] == b"InvalidJSON"
    assert headers["dlq.error.message"]
    assert letters.flushed[0].value == b"{broken"
    assert letters.flushed[0].dlq_topic == "sensor.readings.dlq"
    assert consumer.committed[(TOPIC, 0)] == len(log)


async def test_a_batch_of_only_poison_is_committed_after_the_dlq_flush() -> None:
    consumer = FakeConsumer({(TOPIC, 0): [b"x", b"y"]})
    sink, letters = InMemorySink(), RecordingDeadLetters(fail_flushes=2)
    await run(make_loop(consumer, sink, letters))
    assert len(letters.flushed) == 2
    assert consumer.committed[(TOPIC, 0)] == 2


async def test_a_down_sink_pauses_partitions_retries_with_backoff_and_loses_nothing() -> None:
    events = valid(15)
    consumer = FakeConsumer({(TOPIC, 0): encoded(events)})
    sink, letters = InMemorySink(fail_next=4), RecordingDeadLetters()
    loop = make_loop(consumer, sink, letters, service="pause-test")
    await run(loop)
    assert set(sink.rows) == {e.event_id for e in events}
    assert sink.writes == 4 + 3  # four failures, then three batches of at most 7
    assert consumer.polls_while_paused >= 4  # kept polling (group membership) while paused
    assert consumer.paused == set()  # resumed once the sink came back
    assert CONSUMER_PAUSED.labels("pause-test")._value.get() == 0
    assert consumer.committed[(TOPIC, 0)] == 15


async def test_nothing_is_committed_past_a_batch_that_was_never_written() -> None:
    events = valid(7)
    consumer = FakeConsumer({(TOPIC, 0): encoded(events)})
    sink, letters = InMemorySink(fail_next=10**6), RecordingDeadLetters()
    loop = make_loop(consumer, sink, letters)

    async def stop_soon() -> None:
        await asyncio.sleep(0.05)
        loop.stop()  # SIGTERM while the store is down

    await asyncio.gather(run(loop), stop_soon())
    assert sink.rows == {}
    assert consumer.committed == {}
    assert consumer.closed


async def test_redelivery_after_a_crash_leaves_no_duplicate() -> None:
    events = valid(14)
    log: dict[tuple[str, int], list[bytes | None]] = {(TOPIC, 0): encoded(events)}
    sink = InMemorySink()
    # First run "crashes" after writing: offsets never committed.
    first = FakeConsumer(log)
    loop = make_loop(first, sink, RecordingDeadLetters())
    first.commit = lambda **_: None  # type: ignore[method-assign]
    await run(loop)
    second = FakeConsumer(log, committed=dict(first.committed))
    await run(make_loop(second, sink, RecordingDeadLetters()))
    assert len(sink.rows) == 14
    assert sink.writes == 4  # the batches were written twice, the rows once
    assert second.committed[(TOPIC, 0)] == 14


async def test_records_the_store_refuses_go_to_the_dlq_and_the_rest_is_written() -> None:
    events = valid(6)
    consumer = FakeConsumer({(TOPIC, 0): encoded(events)})
    sink = InMemorySink(reject=[events[2].event_id])
    letters = RecordingDeadLetters()
    await run(make_loop(consumer, sink, letters))
    assert len(sink.rows) == 5
    assert [(d.offset, d.error_class) for d in letters.flushed] == [(2, "Refused")]
    assert consumer.committed[(TOPIC, 0)] == 6


async def test_revoke_commits_what_was_written_and_drops_the_rest() -> None:
    consumer = FakeConsumer({(TOPIC, 0): encoded(valid(3))})
    loop = make_loop(consumer, InMemorySink(), RecordingDeadLetters())
    consumer.subscribe(
        [TOPIC], on_assign=loop._on_assign, on_revoke=loop._on_revoke, on_lost=loop._on_lost
    )
    consumer.consume(0)  # triggers the assignment
    loop._written[(TOPIC, 0)] = 3
    consumer.revoke_all()
    assert consumer.committed == {(TOPIC, 0): 3}
    assert loop._assigned == set()


def test_lag_is_published_from_librdkafka_statistics() -> None:
    metrics = ConsumerMetrics("lag-test")
    stats: dict[str, Any] = {
        "topics": {TOPIC: {"partitions": {"0": {"consumer_lag": 5}, "-1": {"consumer_lag": 9}}}}
    }
    metrics.on_stats(json.dumps(stats))
    from polystream_common.metrics import CONSUMER_LAG

    assert CONSUMER_LAG.labels("lag-test", TOPIC, "0")._value.get() == 5


@pytest.mark.parametrize("batch_size", [1, 1000])
async def test_batch_size_bounds_each_write(batch_size: int) -> None:
    events = valid(10)
    consumer = FakeConsumer({(TOPIC, 0): encoded(events)})
    sink = InMemorySink()
    loop = ConsumeLoop(
        consumer,
        [Route(SENSOR_READINGS, sink)],
        RecordingDeadLetters(),
        SETTINGS.model_copy(update={"batch_size": batch_size}),
        ConsumerMetrics("b"),
    )
    consumer.stop_when_drained = loop.stop
    await run(loop)
    assert sink.writes == -(-10 // batch_size)
