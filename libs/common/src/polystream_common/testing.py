"""Test doubles that ship with the library: an in-memory sink, a fake Kafka consumer and a
recording checkpoint. Unit tests of any service wire these instead of real adapters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from confluent_kafka import TopicPartition

from polystream_common.dlq import DeadLetter
from polystream_common.schemas import Event, SensorReading, utc_now
from polystream_common.sink import (
    DeletingSink,
    Deletion,
    PartitionAwareSink,
    Rejection,
    Sink,
    SinkRecord,
    TopicPartitionId,
)


def sensor_readings(n: int, sensors: int = 3) -> list[SensorReading]:
    """``n`` valid readings of ``sensors`` sensors, each with a fresh event id: test data."""
    return [
        SensorReading(
            event_id=uuid4(),
            event_time=utc_now(),
            sensor_id=f"s-{i % sensors}",
            sensor_type="temperature",
            location="plant-a",
            unit="C",
            value=float(i),
        )
        for i in range(n)
    ]


class InMemorySink(Sink[Event]):
    """Idempotent by ``event_id``, like every real sink.

    ``fail_next`` makes that many following writes raise ``ConnectionError`` (a store that is
    down); ``reject`` lists event ids refused for good (a :class:`Rejection`); ``crash_on`` names
    event ids that make any write holding them raise ``ValueError`` (a record the store chokes
    on, a non-transient error); ``crash_always`` makes every write raise ``TypeError`` (a bug).
    ``write_seconds`` blocks a worker thread that long per write (CPU-bound work off the loop).
    """

    def __init__(
        self,
        name: str = "memory",
        *,
        fail_next: int = 0,
        reject: Iterable[UUID] = (),
        crash_on: Iterable[UUID] = (),
        crash_always: bool = False,
        write_seconds: float = 0.0,
    ):
        self.name = name
        self.rows: dict[UUID, Event] = {}
        self.writes = 0
        self.written = 0  # records written, redeliveries included
        self.fail_next = fail_next
        self.reject = set(reject)
        self.crash_on = set(crash_on)
        self.crash_always = crash_always
        self.write_seconds = write_seconds
        self.closed = False

    async def write(self, batch: Sequence[SinkRecord[Event]]) -> Sequence[Rejection[Event]]:
        self.writes += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("store unavailable")
        if self.crash_always:
            raise TypeError("a bug in the sink")
        if bad := [r.value.event_id for r in batch if r.value.event_id in self.crash_on]:
            raise ValueError(f"the store chokes on {bad[0]}")
        if self.write_seconds:
            await asyncio.to_thread(time.sleep, self.write_seconds)
        rejected: list[Rejection[Event]] = []
        for record in batch:
            if record.value.event_id in self.reject:
                rejected.append(Rejection(record, "Refused", "refused by the store"))
            else:
                self.rows[record.value.event_id] = record.value
                self.written += 1
        return rejected

    async def close(self) -> None:
        self.closed = True


class InMemoryTable(DeletingSink[Event], PartitionAwareSink[Event]):
    """A table keyed by the Kafka key (the latest record wins, a tombstone deletes), which
    records the partition hooks it receives."""

    def __init__(self, name: str = "table") -> None:
        self.name = name
        self.rows: dict[bytes, Event] = {}
        self.deleted: list[bytes] = []
        self.hooks: list[tuple[str, list[TopicPartitionId]]] = []

    async def write(self, batch: Sequence[SinkRecord[Event]]) -> Sequence[Rejection[Event]]:
        for record in batch:
            self.rows[record.key or record.value.key()] = record.value
        return []

    async def delete(self, deletions: Sequence[Deletion]) -> None:
        for deletion in deletions:
            self.rows.pop(deletion.key, None)
            self.deleted.append(deletion.key)

    async def on_assign(self, partitions: Sequence[TopicPartitionId]) -> None:
        self.hooks.append(("assign", list(partitions)))

    async def on_revoke(self, partitions: Sequence[TopicPartitionId]) -> None:
        self.hooks.append(("revoke", list(partitions)))


@dataclass
class FakeMessage:
    """Stands in for ``confluent_kafka.Message``."""

    _topic: str
    _partition: int
    _offset: int
    _value: bytes | None
    _key: bytes | None = None
    _error: Any = None

    def error(self) -> Any:
        return self._error

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value


@dataclass
class FakeConsumer:
    """An in-memory consumer group of one member that owns every partition of ``log``.

    ``log`` maps (topic, partition) to record values. Committed offsets are kept, so a second
    FakeConsumer over the same log and ``committed`` resumes where the first one committed.
    """

    log: dict[tuple[str, int], list[bytes | None]]
    keys: dict[tuple[str, int], list[bytes | None]] = field(default_factory=dict)
    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    stored: dict[tuple[str, int], int] = field(default_factory=dict)  # store_offsets(): stats
    # A callable run when a waiting consume() finds nothing: every record has been returned, and
    # the loop, which waits only with nothing in hand, has written them all.
    stop_when_drained: Any = None
    paused: set[tuple[str, int]] = field(default_factory=set)
    polls_while_paused: int = 0
    closed: bool = False
    _positions: dict[tuple[str, int], int] = field(default_factory=dict)
    _callbacks: dict[str, Any] = field(default_factory=dict)
    _assigned: bool = False

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self._callbacks = callbacks
        self._topics = topics

    def _assign_once(self) -> None:
        if not self._assigned:
            self._assigned = True
            owned = [tp for tp in self.log if tp[0] in self._topics]
            self._positions = {tp: self.committed.get(tp, 0) for tp in owned}
            self._callbacks["on_assign"](self, [TopicPartition(t, p) for t, p in owned])

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[FakeMessage]:
        self._assign_once()
        out: list[FakeMessage] = []
        for tp, position in self._positions.items():
            if tp in self.paused:
                continue
            values = self.log[tp]
            while position < len(values) and len(out) < num_messages:
                key = self.keys[tp][position] if tp in self.keys else b"k"
                out.append(FakeMessage(tp[0], tp[1], position, values[position], key))
                position += 1
            self._positions[tp] = position
        if not out and timeout != 0 and self.stop_when_drained is not None:
            self.stop_when_drained()
        return out

    def poll(self, timeout: float = -1) -> FakeMessage | None:
        self._assign_once()
        if self.paused:
            self.polls_while_paused += 1
        return None

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, p in self._positions]

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused.update((tp.topic, tp.partition) for tp in partitions)

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused.difference_update((tp.topic, tp.partition) for tp in partitions)

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool = True) -> None:
        for tp in offsets:
            self.committed[(tp.topic, tp.partition)] = tp.offset

    def store_offsets(self, *, offsets: list[TopicPartition]) -> None:
        for tp in offsets:
            self.stored[(tp.topic, tp.partition)] = tp.offset

    def revoke_all(self) -> None:
        """Simulate a rebalance that takes every partition away."""
        owned = [TopicPartition(t, p) for t, p in self._positions]
        self._callbacks["on_revoke"](self, owned)
        self._positions = {}

    def close(self) -> None:
        self.closed = True


@dataclass
class RecordingCheckpoint:
    """Keeps checkpointed dead letters and commits offsets on the fake consumer.

    ``fail_commits`` makes that many checkpoints raise (a broker that is down).
    """

    consumer: FakeConsumer
    letters: list[DeadLetter] = field(default_factory=list)
    fail_commits: int = 0
    fail_inits: int = 0
    initialised: bool = False
    timeouts: list[float] = field(default_factory=list)

    def init(self, timeout_s: float = 30.0) -> None:
        if self.fail_inits > 0:
            self.fail_inits -= 1
            raise RuntimeError("broker unavailable")
        self.initialised = True

    def commit(
        self, letters: Sequence[DeadLetter], offsets: Sequence[TopicPartition], timeout_s: float
    ) -> None:
        self.timeouts.append(timeout_s)
        if self.fail_commits > 0:
            self.fail_commits -= 1
            raise RuntimeError("broker unavailable")
        self.letters.extend(letters)
        self.consumer.commit(offsets=list(offsets), asynchronous=False)
