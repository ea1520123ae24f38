"""Test doubles that ship with the library: an in-memory sink, a fake Kafka consumer and a
recording checkpoint. Unit tests of any service wire these instead of real adapters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from confluent_kafka import TopicPartition

from polystream_common.dlq import DeadLetter
from polystream_common.schemas import Event
from polystream_common.sink import Rejection, Sink, SinkRecord


class InMemorySink(Sink[Event]):
    """Idempotent by ``event_id``, like every real sink.

    ``fail_next`` makes that many following writes raise ``ConnectionError`` (a store that is
    down); ``reject`` lists event ids refused for good.
    """

    def __init__(self, name: str = "memory", *, fail_next: int = 0, reject: Iterable[UUID] = ()):
        self.name = name
        self.rows: dict[UUID, Event] = {}
        self.writes = 0
        self.fail_next = fail_next
        self.reject = set(reject)
        self.closed = False

    async def write(self, batch: Sequence[SinkRecord[Event]]) -> Sequence[Rejection[Event]]:
        self.writes += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("store unavailable")
        rejected: list[Rejection[Event]] = []
        for record in batch:
            if record.value.event_id in self.reject:
                rejected.append(Rejection(record, "Refused", "refused by the store"))
            else:
                self.rows[record.value.event_id] = record.value
        return rejected

    async def close(self) -> None:
        self.closed = True


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
                out.append(FakeMessage(tp[0], tp[1], position, values[position], b"k"))
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

    def commit(self, letters: Sequence[DeadLetter], offsets: Sequence[TopicPartition]) -> None:
        if self.fail_commits > 0:
            self.fail_commits -= 1
            raise RuntimeError("broker unavailable")
        self.letters.extend(letters)
        self.consumer.commit(offsets=list(offsets), asynchronous=False)
