"""The loop's fan-out, deletes, error classes, deadlines and partition hooks, on the fakes."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from polystream_common.checkpoint import Deadline, KafkaTransactionalCheckpoint
from polystream_common.dlq import DeadLetter
from polystream_common.loop import ConsumeLoop, FatalSinkError, Route, check_routes
from polystream_common.metrics import SINK_BISECTIONS, ConsumerMetrics
from polystream_common.schemas import Product, utc_now
from polystream_common.settings import ConsumerSettings
from polystream_common.testing import (
    FakeConsumer,
    InMemorySink,
    InMemoryTable,
    RecordingCheckpoint,
    sensor_readings,
)
from polystream_common.topics import PRODUCTS, SENSOR_READINGS

TOPIC = SENSOR_READINGS.topic
SETTINGS = ConsumerSettings(group_id="t", batch_size=7, backoff_initial_s=0.001, backoff_max_s=0.01)


readings = sensor_readings


def product(pid: str, price: float) -> Product:
    return Product(
        event_id=uuid.uuid4(),
        event_time=utc_now(),
        product_id=pid,
        name=f"name {pid}",
        description="d",
        category="shoes",
        price=price,
    )


def wire(events: list[Any]) -> list[bytes | None]:
    # Not the model's own encoding: dead letters must carry what was read, byte for byte.
    return [json.dumps(json.loads(e.model_dump_json()), indent=1).encode() for e in events]


def make_loop(
    consumer: FakeConsumer,
    routes: list[Route[Any]],
    checkpoint: RecordingCheckpoint | None = None,
    settings: ConsumerSettings = SETTINGS,
    service: str = "t",
) -> ConsumeLoop:
    loop = ConsumeLoop(
        consumer,
        routes,
        checkpoint or RecordingCheckpoint(consumer),
        settings,
        ConsumerMetrics(service),
    )
    consumer.stop_when_drained = loop.stop
    return loop


async def run(loop: ConsumeLoop) -> None:
    await asyncio.wait_for(loop.run(), 10)


# -- fan-out ---------------------------------------------------------------------------------


async def test_one_topic_feeds_every_sink_routed_from_it() -> None:
    events = readings(20)
    consumer = FakeConsumer({(TOPIC, 0): wire(events)})
    first, second = InMemorySink("first"), InMemorySink("second")
    await run(make_loop(consumer, [Route(SENSOR_READINGS, first), Route(SENSOR_READINGS, second)]))
    assert set(first.rows) == set(second.rows) == {e.event_id for e in events}
    assert consumer.committed == {(TOPIC, 0): 20}


async def test_a_batch_is_committed_only_once_every_sink_of_its_topic_wrote_it() -> None:
    consumer = FakeConsumer({(TOPIC, 0): wire(readings(5))})
    fine, down = InMemorySink("fine"), InMemorySink("down", fail_next=10**6)
    loop = make_loop(consumer, [Route(SENSOR_READINGS, fine), Route(SENSOR_READINGS, down)])

    async def stop_soon() -> None:
        await asyncio.sleep(0.1)
        loop.stop()

    await asyncio.gather(run(loop), stop_soon())
    assert len(fine.rows) == 5 and down.rows == {}
    assert consumer.committed == {}  # redelivered whole; the idempotent sinks absorb it


def test_routing_the_same_topic_to_the_same_sink_twice_is_refused() -> None:
    sink = InMemorySink("pg")
    with pytest.raises(ValueError, match="twice"):
        check_routes([Route(SENSOR_READINGS, sink), Route(SENSOR_READINGS, InMemorySink("pg"))])


def test_a_sink_that_cannot_delete_is_refused_on_a_stream_whose_tombstones_delete() -> None:
    with pytest.raises(ValueError, match="DeletingSink"):
        check_routes([Route(PRODUCTS, InMemorySink())])  # type: ignore[arg-type]


async def test_each_route_writes_in_chunks_of_its_own_batch_size() -> None:
    consumer = FakeConsumer({(TOPIC, 0): wire(readings(7))})
    small, whole = InMemorySink("small"), InMemorySink("whole")
    await run(
        make_loop(
            consumer, [Route(SENSOR_READINGS, small, batch_size=2), Route(SENSOR_READINGS, whole)]
        )
    )
    assert (small.writes, whole.writes) == (4, 1)
    assert len(small.rows) == len(whole.rows) == 7


class TimeoutRecordingConsumer(FakeConsumer):
    """Records the timeout of every consume(): 0 is the pipelined "what is fetched already"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeouts: list[float] = []

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]:
        self.timeouts.append(timeout)
        return super().consume(num_messages, timeout)


@pytest.mark.parametrize("pipelined", [True, False])
async def test_a_loop_that_is_not_pipelined_gathers_every_batch_for_its_timeout(
    pipelined: bool,
) -> None:
    consumer = TimeoutRecordingConsumer({(TOPIC, 0): wire(readings(30))})
    sink = InMemorySink("lake")
    checkpoint = RecordingCheckpoint(consumer)
    settings = SETTINGS.model_copy(update={"batch_timeout_s": 0.05, "pipelined": pipelined})
    await run(make_loop(consumer, [Route(SENSOR_READINGS, sink)], checkpoint, settings))
    assert len(sink.rows) == 30 and sink.writes == 5  # batches of 7, then 2
    assert (0.0 in consumer.timeouts) is pipelined
    assert set(consumer.timeouts) <= {0.0, 0.05}


# -- deletes ---------------------------------------------------------------------------------


async def test_a_tombstone_on_the_catalog_deletes_and_the_latest_record_of_a_key_wins() -> None:
    p = PRODUCTS.topic
    log: list[bytes | None] = [
        *wire([product("a", 1), product("b", 2), product("a", 3)]),
        None,  # b deleted
        *wire([product("c", 4)]),
        None,  # c deleted, then written again
        *wire([product("c", 5)]),
    ]
    keys: list[bytes | None] = [b"a", b"b", b"a", b"b", b"c", b"c", b"c"]
    consumer = FakeConsumer({(p, 0): log}, keys={(p, 0): keys})
    table = InMemoryTable()
    checkpoint = RecordingCheckpoint(consumer)
    await run(make_loop(consumer, [Route(PRODUCTS, table)], checkpoint))
    assert {k: e.price for k, e in table.rows.items()} == {b"a": 3, b"c": 5}  # type: ignore[attr-defined]
    assert table.deleted == [b"b"]
    assert checkpoint.letters == []
    assert consumer.committed == {(p, 0): 7}


async def test_a_tombstone_on_an_event_stream_is_still_poison() -> None:
    consumer = FakeConsumer({(TOPIC, 0): [None]})
    checkpoint = RecordingCheckpoint(consumer)
    await run(make_loop(consumer, [Route(SENSOR_READINGS, InMemorySink())], checkpoint))
    assert [d.error_class for d in checkpoint.letters] == ["NullValue"]


# -- error classes ---------------------------------------------------------------------------


async def test_a_record_the_sink_chokes_on_is_isolated_to_the_dlq_with_its_original_bytes() -> None:
    events = readings(7)
    raw = wire(events)
    consumer = FakeConsumer({(TOPIC, 0): raw})
    sink = InMemorySink("choking", crash_on=[events[4].event_id])
    checkpoint = RecordingCheckpoint(consumer)
    await run(make_loop(consumer, [Route(SENSOR_READINGS, sink)], checkpoint, service="bisect"))
    assert set(sink.rows) == {e.event_id for e in events} - {events[4].event_id}
    [letter] = checkpoint.letters
    assert (letter.offset, letter.error_class, letter.sink) == (4, "ValueError", "choking")
    assert letter.value == raw[4]  # byte for byte, not re-encoded
    assert "chokes" in letter.message
    assert SINK_BISECTIONS.labels("bisect", "choking")._value.get() >= 2
    assert consumer.committed == {(TOPIC, 0): 7}


async def test_refused_records_carry_their_original_bytes_too() -> None:
    events = readings(3)
    raw = wire(events)
    consumer = FakeConsumer({(TOPIC, 0): raw})
    checkpoint = RecordingCheckpoint(consumer)
    sink = InMemorySink(reject=[events[1].event_id])
    await run(make_loop(consumer, [Route(SENSOR_READINGS, sink)], checkpoint))
    assert [(d.offset, d.value) for d in checkpoint.letters] == [(1, raw[1])]


async def test_a_sink_that_fails_every_record_stops_the_loop_loudly_and_commits_nothing() -> None:
    consumer = FakeConsumer({(TOPIC, 0): wire(readings(5))})
    loop = make_loop(consumer, [Route(SENSOR_READINGS, InMemorySink(crash_always=True))])
    with pytest.raises(FatalSinkError, match="TypeError"):
        await run(loop)
    assert consumer.committed == {}
    assert consumer.closed


# -- CPU-bound and slow writes ----------------------------------------------------------------


async def test_a_write_longer_than_the_keepalive_keeps_polling_with_partitions_paused() -> None:
    consumer = FakeConsumer({(TOPIC, 0): wire(readings(3))})
    sink = InMemorySink(write_seconds=0.5)  # blocks a worker thread, not the event loop
    settings = SETTINGS.model_copy(update={"keepalive_s": 0.05})
    await run(make_loop(consumer, [Route(SENSOR_READINGS, sink)], settings=settings))
    assert consumer.polls_while_paused >= 2
    assert consumer.paused == set()  # resumed after the write
    assert len(sink.rows) == 3 and sink.writes == 1


# -- partition hooks and deadlines -------------------------------------------------------------


async def test_partition_aware_sinks_hear_of_assignments_and_revocations() -> None:
    p = PRODUCTS.topic
    consumer = FakeConsumer({(p, 0): wire([product("a", 1)]), (p, 1): []})
    table = InMemoryTable()
    loop = make_loop(consumer, [Route(PRODUCTS, table)])
    await run(loop)
    assert table.hooks[0] == ("assign", [(p, 0), (p, 1)])
    loop._event_loop, loop._loop_thread = asyncio.get_running_loop(), threading.get_ident()
    await asyncio.to_thread(consumer.revoke_all)
    assert table.hooks[-1] == ("revoke", [(p, 0), (p, 1)])


async def test_revoke_finishes_within_its_deadline_when_the_checkpoint_hangs() -> None:
    consumer = FakeConsumer({(TOPIC, 0): wire(readings(1))})

    class HangingCheckpoint(RecordingCheckpoint):
        def commit(self, letters: Any, offsets: Any, timeout_s: float) -> None:
            time.sleep(min(timeout_s, 5))  # a broker that never answers, bounded by the deadline
            raise TimeoutError

    settings = SETTINGS.model_copy(update={"rebalance_timeout_s": 0.2})
    loop = make_loop(
        consumer, [Route(SENSOR_READINGS, InMemorySink())], HangingCheckpoint(consumer), settings
    )
    consumer.subscribe([TOPIC], on_assign=loop._on_assign, on_revoke=loop._on_revoke)
    consumer.consume(0)
    loop._written[(TOPIC, 0)] = 1
    started = time.monotonic()
    consumer.revoke_all()
    assert time.monotonic() - started < 1.0
    assert loop._assigned == set()


class FullQueueProducer:
    """A transactional producer whose local queue never drains."""

    def __init__(self) -> None:
        self.aborted = False

    def begin_transaction(self) -> None: ...

    def produce(self, *_: Any, **__: Any) -> None:
        raise BufferError

    def poll(self, timeout: float) -> int:
        time.sleep(timeout)
        return 0

    def abort_transaction(self, timeout: float) -> None:
        self.aborted = True


def test_a_checkpoint_commit_gives_up_at_its_deadline_and_aborts() -> None:
    producer = FullQueueProducer()
    checkpoint = KafkaTransactionalCheckpoint(producer, None, "t")  # type: ignore[arg-type]
    letter = DeadLetter("x.dlq", "x", 0, 0, None, b"v", "E", "m")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        checkpoint.commit([letter], [TopicPartition("x", 0, 1)], timeout_s=0.3)
    assert time.monotonic() - started < 2.0
    assert producer.aborted


def test_a_deadline_counts_down() -> None:
    deadline = Deadline(0.05)
    assert 0 < deadline.remaining() <= 0.05
    time.sleep(0.06)
    assert deadline.expired()
