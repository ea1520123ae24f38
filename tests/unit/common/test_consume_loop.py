"""The consumer loop against the in-memory sink and a fake consumer: no network."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from polystream_common.loop import ConsumeLoop, Route
from polystream_common.metrics import CONSUMER_LAG, CONSUMER_PAUSED, ConsumerMetrics
from polystream_common.schemas import SensorReading
from polystream_common.settings import ConsumerSettings
from polystream_common.testing import (
    FakeConsumer,
    InMemorySink,
    RecordingCheckpoint,
    sensor_readings,
)
from polystream_common.topics import SENSOR_READINGS

TOPIC = SENSOR_READINGS.topic
SETTINGS = ConsumerSettings(group_id="t", batch_size=7, backoff_initial_s=0.001, backoff_max_s=0.01)


valid = sensor_readings


def encoded(events: list[SensorReading]) -> list[bytes | None]:
    return [SENSOR_READINGS.encode(e) for e in events]


def make_loop(
    consumer: FakeConsumer,
    sink: InMemorySink,
    checkpoint: RecordingCheckpoint | None = None,
    service: str = "t",
    settings: ConsumerSettings = SETTINGS,
) -> ConsumeLoop:
    loop = ConsumeLoop(
        consumer,
        [Route(SENSOR_READINGS, sink)],
        checkpoint or RecordingCheckpoint(consumer),
        settings,
        ConsumerMetrics(service),
    )
    consumer.stop_when_drained = loop.stop
    return loop


async def run(loop: ConsumeLoop) -> None:
    await asyncio.wait_for(loop.run(), timeout=10)


async def test_every_valid_record_is_written_and_offsets_committed_after() -> None:
    events = valid(20)
    consumer = FakeConsumer({(TOPIC, 0): encoded(events[:12]), (TOPIC, 1): encoded(events[12:])})
    sink, checkpoint = InMemorySink(), RecordingCheckpoint(consumer)
    await run(make_loop(consumer, sink, checkpoint))
    assert set(sink.rows) == {e.event_id for e in events}
    assert consumer.committed == {(TOPIC, 0): 12, (TOPIC, 1): 8}
    assert checkpoint.letters == []
    assert consumer.closed


async def test_poison_goes_to_the_dlq_with_origin_and_error_and_the_loop_goes_on() -> None:
    events = valid(10)
    poison: list[bytes | None] = [b"{broken", json.dumps({"event_id": 1}).encode(), None]
    log = encoded(events[:5]) + poison + encoded(events[5:])
    consumer = FakeConsumer({(TOPIC, 0): log})
    sink, checkpoint = InMemorySink(), RecordingCheckpoint(consumer)
    await run(make_loop(consumer, sink, checkpoint))

    assert len(sink.rows) == 10
    letters = checkpoint.letters
    assert [(d.offset, d.error_class) for d in letters] == [
        (5, "InvalidJSON"),
        (6, "SchemaViolation"),
        (7, "NullValue"),
    ]
    headers = dict(letters[0].headers("sensor-consumer"))
    assert headers["dlq.origin.topic"] == TOPIC.encode()
    assert headers["dlq.origin.partition"] == b"0"
    assert headers["dlq.origin.offset"] == b"5"
    assert headers["dlq.error.class"] == b"InvalidJSON"
    assert headers["dlq.error.message"]
    assert letters[0].value == b"{broken"
    assert letters[0].dlq_topic == "sensor.readings.dlq"
    assert consumer.committed[(TOPIC, 0)] == len(log)


async def test_a_failing_checkpoint_is_retried_until_letters_and_offsets_land_together() -> None:
    consumer = FakeConsumer({(TOPIC, 0): [b"x", b"y"]})
    checkpoint = RecordingCheckpoint(consumer, fail_commits=2)
    await run(make_loop(consumer, InMemorySink(), checkpoint))
    assert [d.offset for d in checkpoint.letters] == [0, 1]
    assert consumer.committed[(TOPIC, 0)] == 2


async def test_a_down_sink_pauses_partitions_retries_with_backoff_and_loses_nothing() -> None:
    events = valid(15)
    consumer = FakeConsumer({(TOPIC, 0): encoded(events)})
    sink = InMemorySink(fail_next=4)
    await run(make_loop(consumer, sink, service="pause-test"))
    assert set(sink.rows) == {e.event_id for e in events}
    assert sink.writes == 4 + 3  # four failures, then three batches of at most 7
    assert consumer.polls_while_paused >= 4  # kept polling (group membership) while paused
    assert consumer.paused == set()  # resumed once the sink came back
    assert CONSUMER_PAUSED.labels("pause-test")._value.get() == 0
    assert consumer.committed[(TOPIC, 0)] == 15


async def test_nothing_is_committed_past_a_batch_that_was_never_written() -> None:
    consumer = FakeConsumer({(TOPIC, 0): encoded(valid(7))})
    sink = InMemorySink(fail_next=10**6)
    loop = make_loop(consumer, sink)

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
    first = FakeConsumer(log)  # "crashes" after writing: its offsets never reach the broker
    first.commit = lambda **_: None  # type: ignore[method-assign]
    await run(make_loop(first, sink))
    second = FakeConsumer(log, committed=dict(first.committed))
    await run(make_loop(second, sink))
    assert len(sink.rows) == 14
    assert sink.writes == 4  # the batches were written twice, the rows once
    assert second.committed[(TOPIC, 0)] == 14


async def test_records_the_store_refuses_go_to_the_dlq_and_the_rest_is_written() -> None:
    events = valid(6)
    consumer = FakeConsumer({(TOPIC, 0): encoded(events)})
    sink = InMemorySink(reject=[events[2].event_id])
    checkpoint = RecordingCheckpoint(consumer)
    await run(make_loop(consumer, sink, checkpoint))
    assert len(sink.rows) == 5
    assert [(d.offset, d.error_class) for d in checkpoint.letters] == [(2, "Refused")]
    assert consumer.committed[(TOPIC, 0)] == 6


async def test_revoke_checkpoints_what_was_written_before_the_partitions_go() -> None:
    consumer = FakeConsumer({(TOPIC, 0): encoded(valid(3))})
    loop = make_loop(consumer, InMemorySink())
    consumer.subscribe(
        [TOPIC], on_assign=loop._on_assign, on_revoke=loop._on_revoke, on_lost=loop._on_lost
    )
    consumer.consume(0)  # triggers the assignment
    loop._written[(TOPIC, 0)] = 3
    consumer.revoke_all()
    assert consumer.committed == {(TOPIC, 0): 3}
    assert loop._assigned == set()
    assert loop._written == {}


def test_lag_is_published_from_librdkafka_statistics() -> None:
    metrics = ConsumerMetrics("lag-test")
    stats: dict[str, Any] = {
        "topics": {TOPIC: {"partitions": {"0": {"consumer_lag": 5}, "-1": {"consumer_lag": 9}}}}
    }
    metrics.on_stats(json.dumps(stats))
    assert CONSUMER_LAG.labels("lag-test", TOPIC, "0")._value.get() == 5
    # Once the loop has stored its checkpointed offsets, the lag is measured from them.
    stats["topics"][TOPIC]["partitions"]["0"]["consumer_lag_stored"] = 2
    metrics.on_stats(json.dumps(stats))
    assert CONSUMER_LAG.labels("lag-test", TOPIC, "0")._value.get() == 2


async def test_checkpointed_offsets_are_stored_on_the_consumer_for_its_statistics() -> None:
    consumer = FakeConsumer({(TOPIC, 0): encoded(valid(10)), (TOPIC, 1): encoded(valid(3))})
    await run(make_loop(consumer, InMemorySink()))
    assert consumer.stored == consumer.committed == {(TOPIC, 0): 10, (TOPIC, 1): 3}


@pytest.mark.parametrize("batch_size", [1, 1000])
async def test_batch_size_bounds_each_write(batch_size: int) -> None:
    consumer = FakeConsumer({(TOPIC, 0): encoded(valid(10))})
    sink = InMemorySink()
    settings = SETTINGS.model_copy(update={"batch_size": batch_size})
    await run(make_loop(consumer, sink, settings=settings))
    assert sink.writes == -(-10 // batch_size)


async def test_the_next_batch_is_decoded_during_a_write_and_is_redelivered_after_a_stop() -> None:
    events = valid(21)
    consumer = FakeConsumer({(TOPIC, 0): encoded(events)})
    polled_at_first_write: list[int] = []

    class SlowSink(InMemorySink):
        async def write(self, batch: Any) -> Any:
            if not polled_at_first_write:
                await asyncio.sleep(0.01)  # the store at work: the loop decodes meanwhile
                polled_at_first_write.append(consumer._positions[(TOPIC, 0)])
                loop.stop()  # SIGTERM during the first write
            return await super().write(batch)

    sink = SlowSink()
    loop = make_loop(consumer, sink)
    await run(loop)
    assert polled_at_first_write == [14]  # the second batch was polled before the first write
    assert set(sink.rows) == {e.event_id for e in events[:7]}
    assert consumer.committed == {(TOPIC, 0): 7}  # the batch decoded ahead is not committed
