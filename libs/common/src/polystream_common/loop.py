"""The one consumer loop every consumer service runs.

Order per batch, written down because at-least-once depends on it:

1. poll a batch (bounded by ``batch_size``), decode and validate each record;
2. write the valid ones to their sink, retrying the whole batch with backoff while the sink fails;
   the partitions are paused meanwhile and the loop keeps polling, so the group membership holds
   (``max.poll.interval.ms``) and nothing more is fetched: memory stays bounded;
3. only then run the checkpoint: the invalid records (and those the sink refused) go to the
   stream's dead-letter topic and the offsets are committed, atomically (see checkpoint.py), and
   only for partitions still assigned.

A crash anywhere before 3 redelivers the batch; the sinks are idempotent and the dead letters of
an unfinished checkpoint are never visible, so nothing is lost or duplicated. A rebalance
checkpoints what was already written before the partitions go. ``stop()`` (the SIGTERM handler)
lets the batch in flight finish and checkpoint, then the loop closes.

Batches overlap by one step: while batch N is written and checkpointed (2 and 3), batch N+1,
polled just before without waiting, is decoded (1), so the CPU work of one runs while the store
works on the other. Nothing else changes: at most two batches are in memory, the consumer is
never called while a write is running except by the write's own retries, and a batch decoded
ahead when the loop stops is neither written nor committed: it is redelivered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from polystream_common.backoff import Backoff
from polystream_common.checkpoint import Checkpoint, FatalCheckpointError
from polystream_common.codec import InvalidRecord, decode_record
from polystream_common.dlq import DeadLetter
from polystream_common.metrics import ConsumerMetrics, SinkMetrics
from polystream_common.schemas import Event
from polystream_common.settings import ConsumerSettings
from polystream_common.sink import Rejection, Sink, SinkRecord
from polystream_common.topics import Stream

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
T = TypeVar("T")
TP = tuple[str, int]
RebalanceCallback = Callable[[Any, list[TopicPartition]], None]
DECODE_CHUNK = 250
"""Records decoded between two yields to the event loop (see ``ConsumeLoop.run``)."""


class KafkaMessage(Protocol):
    """The part of ``confluent_kafka.Message`` the loop reads."""

    def error(self) -> KafkaError | None: ...
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...


class KafkaConsumerPort(Protocol):
    """The part of ``confluent_kafka.Consumer`` the loop uses; tests pass a fake."""

    def subscribe(
        self,
        topics: list[str],
        on_assign: RebalanceCallback | None = ...,
        on_revoke: RebalanceCallback | None = ...,
        on_lost: RebalanceCallback | None = ...,
    ) -> None: ...
    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]: ...
    def poll(self, timeout: float = -1) -> Any: ...
    def pause(self, partitions: list[TopicPartition]) -> None: ...
    def resume(self, partitions: list[TopicPartition]) -> None: ...
    def assignment(self) -> list[TopicPartition]: ...
    def store_offsets(self, *, offsets: list[TopicPartition]) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Route(Generic[E]):
    """Records of ``stream`` go to ``sink``."""

    stream: Stream[E]
    sink: Sink[E]


@dataclass(frozen=True)
class DecodedBatch:
    """A polled batch, decoded: records per topic for the sinks, dead letters of the invalid
    ones, and the next offset of each partition it covers."""

    records: dict[str, list[SinkRecord[Any]]]
    letters: list[DeadLetter]
    ends: dict[TP, int]


class ConsumeLoop:
    """Poll, validate, write, then commit; see the module docstring for the guarantees."""

    def __init__(
        self,
        consumer: KafkaConsumerPort,
        routes: Sequence[Route[Any]],
        checkpoint: Checkpoint,
        settings: ConsumerSettings,
        metrics: ConsumerMetrics,
    ) -> None:
        self._consumer = consumer
        self._routes = {route.stream.topic: route for route in routes}
        self._checkpoint = checkpoint
        self._settings = settings
        self._metrics = metrics
        self._route_metrics: dict[str, SinkMetrics] = {
            topic: metrics.for_route(topic, route.sink.name)
            for topic, route in self._routes.items()
        }
        self._running = True
        self._paused = False
        self._assigned: set[TP] = set()
        # Written to the sinks but not checkpointed yet: next offset per partition, dead letters.
        self._written: dict[TP, int] = {}
        self._letters: list[DeadLetter] = []
        self._carry: list[KafkaMessage] = []  # fetched while paused: first in the next batch

    def stop(self) -> None:
        """Ask the loop to finish the batch in flight and exit; safe from a signal handler."""
        self._running = False

    def _stopping(self) -> bool:
        return not self._running

    async def run(self) -> None:
        self._consumer.subscribe(
            list(self._routes),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        try:
            ahead: DecodedBatch | None = None  # polled and decoded, not written yet
            while self._running:
                # With a batch in hand, take only what is fetched already: its write must not
                # wait for the next batch to arrive.
                timeout = 0.0 if ahead else self._settings.batch_timeout_s
                batch = await self._poll_batch(timeout)
                if ahead is None:
                    ahead = await self._decode(batch) if batch else None
                    continue
                # Write and checkpoint one batch while the next is decoded: decoding yields
                # between chunks, so it runs while the write waits on its store.
                store = asyncio.create_task(self._store(ahead))
                try:
                    ahead = await self._decode(batch) if batch else None
                finally:
                    await store
        finally:
            await asyncio.to_thread(self._consumer.close)
            log.info("consumer closed")

    # -- polling ---------------------------------------------------------------------------

    async def _poll_batch(self, timeout_s: float) -> list[KafkaMessage]:
        batch, self._carry = self._carry, []
        want = self._settings.batch_size - len(batch)
        if want > 0:
            batch.extend(await asyncio.to_thread(self._consumer.consume, want, timeout_s))
        return batch

    async def _wait_polling(self, delay_s: float) -> None:
        """Sleep ``delay_s`` while serving the group protocol with paused partitions."""
        deadline = time.monotonic() + delay_s
        while (remaining := deadline - time.monotonic()) > 0 and self._running:
            self._pause()  # covers partitions assigned since the last call
            msg = await asyncio.to_thread(self._consumer.poll, min(remaining, 1.0))
            if msg is not None and msg.error() is None:
                self._carry.append(msg)

    def _pause(self) -> None:
        self._consumer.pause(self._consumer.assignment())
        if not self._paused:
            self._paused = True
            self._metrics.paused(True)
            log.warning("sink unavailable: partitions paused")

    def _resume(self) -> None:
        if self._paused:
            self._consumer.resume(self._consumer.assignment())
            self._paused = False
            self._metrics.paused(False)
            log.info("partitions resumed")

    # -- one batch -------------------------------------------------------------------------

    async def _decode(self, batch: Sequence[KafkaMessage]) -> DecodedBatch:
        self._metrics.batch(len(batch))
        decoded = DecodedBatch(defaultdict(list), [], {})
        consumed: dict[str, int] = defaultdict(int)
        for i, msg in enumerate(batch):
            if i % DECODE_CHUNK == DECODE_CHUNK - 1:
                await asyncio.sleep(0)  # let the batch being written go on
            if (err := msg.error()) is not None:
                log.warning("consumer error", extra={"error": str(err)})
                continue
            topic, partition, offset = msg.topic() or "", msg.partition() or 0, msg.offset() or 0
            tp = (topic, partition)
            decoded.ends[tp] = max(decoded.ends.get(tp, -1), offset + 1)
            route = self._routes[topic]
            consumed[topic] += 1
            try:
                event = decode_record(route.stream, msg.value())
            except InvalidRecord as exc:
                decoded.letters.append(
                    DeadLetter(
                        route.stream.dlq_topic,
                        topic,
                        partition,
                        offset,
                        msg.key(),
                        msg.value(),
                        exc.error_class,
                        exc.message,
                    )
                )
                continue
            decoded.records[topic].append(SinkRecord(event, topic, partition, offset, msg.key()))
        for topic, n in consumed.items():
            self._route_metrics[topic].consumed.inc(n)
        return decoded

    async def _store(self, batch: DecodedBatch) -> None:
        letters = list(batch.letters)
        for topic, route in self._routes.items():
            if topic in batch.records:
                rejections = await self._write(route, batch.records[topic])
                if rejections is None:
                    return  # stopping while the sink is down: leave it uncommitted
                letters.extend(self._letter_for(route, r) for r in rejections)
            self._written.update({tp: end for tp, end in batch.ends.items() if tp[0] == topic})
        self._letters.extend(letters)

        if await self._run_checkpoint():
            self._observe_end_to_end(batch.records)

    async def _write(
        self, route: Route[Any], records: list[SinkRecord[Any]]
    ) -> Sequence[Rejection[Any]] | None:
        sink, metrics = route.sink, self._route_metrics[route.stream.topic]
        rejections = await self._retry(
            sink.name, lambda: sink.write(records), metrics, len(records)
        )
        if rejections is not None:
            metrics.written.inc(len(records) - len(rejections))
        return rejections

    @staticmethod
    def _letter_for(route: Route[Any], rejection: Rejection[Any]) -> DeadLetter:
        record = rejection.record
        return DeadLetter(
            route.stream.dlq_topic,
            record.topic,
            record.partition,
            record.offset,
            record.key,
            route.stream.encode(record.value),
            rejection.error_class,
            rejection.message,
        )

    def _take_pending(self, partitions: set[TP]) -> tuple[list[DeadLetter], list[TopicPartition]]:
        """Remove and return what is written but not checkpointed, for ``partitions``."""
        offsets = [
            TopicPartition(t, p, end)
            for (t, p), end in self._written.items()
            if (t, p) in partitions
        ]
        letters = [d for d in self._letters if (d.topic, d.partition) in partitions]
        self._written = {tp: end for tp, end in self._written.items() if tp not in partitions}
        self._letters = [d for d in self._letters if (d.topic, d.partition) not in partitions]
        return letters, offsets

    async def _run_checkpoint(self) -> bool:
        # Partitions revoked meanwhile were checkpointed by the callback or belong to another
        # member now, which redelivers them: only what is still ours is committed here.
        self._written = {tp: end for tp, end in self._written.items() if tp in self._assigned}
        self._letters = [d for d in self._letters if (d.topic, d.partition) in self._assigned]
        letters, offsets = (
            list(self._letters),
            [TopicPartition(t, p, end) for (t, p), end in self._written.items()],
        )

        async def commit() -> bool:
            await asyncio.to_thread(self._checkpoint.commit, letters, offsets)
            return True

        if await self._retry("checkpoint", commit) is None:
            return False
        self._written.clear()
        self._letters.clear()
        self._store_offsets(offsets)
        for letter in letters:
            self._metrics.dlq(letter.topic, letter.error_class)
        if letters:
            log.warning(
                "records sent to the DLQ",
                extra={
                    "count": len(letters),
                    "first": (
                        letters[0].topic,
                        letters[0].partition,
                        letters[0].offset,
                        letters[0].error_class,
                    ),
                },
            )
        return True

    async def _retry(
        self,
        target: str,
        attempt: Callable[[], Awaitable[T]],
        metrics: SinkMetrics | None = None,
        size: int = 0,
    ) -> T | None:
        """Run ``attempt`` until it succeeds, pausing partitions and backing off between tries.

        Returns None only if the loop is stopped while the target is still failing.
        """
        backoff = Backoff(self._settings.backoff_initial_s, self._settings.backoff_max_s)
        try:
            while True:
                started = time.perf_counter()
                try:
                    result = await attempt()
                except FatalCheckpointError:
                    raise
                except Exception as exc:
                    self._metrics.retry(target, type(exc).__name__)
                    self._metrics.sink_up(target, False)
                    if metrics is not None:
                        metrics.failed.inc(size)
                    delay = backoff.next_delay()
                    log.warning(
                        "write failed, retrying",
                        extra={"target": target, "error": repr(exc), "retry_in_s": round(delay, 3)},
                    )
                    if self._stopping():
                        return None
                    self._pause()
                    await self._wait_polling(delay)
                    if self._stopping():
                        return None
                    continue
                self._metrics.write_seconds(target).observe(time.perf_counter() - started)
                self._metrics.sink_up(target, True)
                return result
        finally:
            self._resume()

    def _store_offsets(self, offsets: list[TopicPartition]) -> None:
        """Tell the consumer what the checkpoint committed. The commit went through the
        transactional producer, so the consumer's statistics would not know it otherwise; with
        it they report the lag behind the checkpoint (``consumer_lag_stored``). Stores nothing
        on the broker: auto commit is off."""
        if not offsets:
            return
        try:
            self._consumer.store_offsets(offsets=offsets)
        except KafkaException as exc:  # e.g. a partition revoked meanwhile: only a statistic
            log.debug("offsets not stored for statistics", extra={"error": repr(exc)})

    def _observe_end_to_end(self, records: dict[str, list[SinkRecord[Any]]]) -> None:
        now = time.time()
        for topic, batch in records.items():
            histogram = self._route_metrics[topic].end_to_end
            for record in batch:
                histogram.observe(max(0.0, now - record.value.event_time.timestamp()))

    # -- rebalance callbacks (run inside consume()/poll()) -----------------------------------

    def _on_assign(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self._assigned.update((tp.topic, tp.partition) for tp in partitions)
        log.info("partitions assigned", extra={"partitions": _names(partitions)})

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        letters, offsets = self._take_pending(revoked)
        if letters or offsets:
            try:
                self._checkpoint.commit(letters, offsets)
            except Exception as exc:  # the next owner redelivers them; sinks are idempotent
                self._metrics.commit_failed()
                log.warning("checkpoint on revoke failed", extra={"error": repr(exc)})
        self._assigned -= revoked
        log.info("partitions revoked", extra={"partitions": _names(partitions)})

    def _on_lost(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        lost = {(tp.topic, tp.partition) for tp in partitions}
        self._take_pending(lost)  # another member owns them now: it redelivers
        self._assigned -= lost
        log.warning("partitions lost", extra={"partitions": _names(partitions)})


def _names(partitions: list[TopicPartition]) -> list[str]:
    return [f"{tp.topic}[{tp.partition}]" for tp in partitions]
