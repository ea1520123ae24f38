"""The one consumer loop every consumer service runs.

Order per batch, written down because at-least-once depends on it:

1. poll a batch (bounded by ``batch_size``), decode and validate each record; on a stream whose
   tombstones mean delete, a null value becomes a :class:`~polystream_common.sink.Deletion` and
   only the latest record of each key is kept (compaction's own rule);
2. write the valid ones to *every* sink routed from their topic (fan-out), in chunks of the
   route's ``batch_size``, then apply the deletions:
   - a transient error (``Sink.is_transient``) pauses the partitions and retries with backoff
     while the loop keeps polling, so the group membership holds (``max.poll.interval.ms``) and
     nothing more is fetched: memory stays bounded;
   - any other error bisects the chunk until the records that fail are found; they become
     dead letters with the error. If no part of the chunk writes at all, the error is not the
     records' and the loop raises :class:`FatalSinkError`: the service exits non-zero;
   - a write running longer than ``keepalive_s`` pauses the partitions and polls until it ends;
3. only then run the checkpoint: the invalid records (and those a sink refused) go to the
   stream's dead-letter topic and the offsets are committed, atomically (see checkpoint.py), and
   only for partitions still assigned.

A crash anywhere before 3 redelivers the batch; the sinks are idempotent and the dead letters of
an unfinished checkpoint are never visible, so nothing is lost or duplicated. A batch one sink
wrote and another did not is redelivered whole, which the idempotent sinks absorb. A rebalance
waits for the write in flight, checkpoints what was written for the partitions that go, then calls
the sinks' partition hooks, all within ``rebalance_timeout_s``. ``stop()`` (the SIGTERM handler)
lets the batch in flight finish and checkpoint, then the loop closes.

Batches overlap by one step: while batch N is written and checkpointed (2 and 3), batch N+1,
polled just before without waiting, is decoded (1), so the CPU work of one runs while the store
works on the other. At most two batches are in memory, the consumer is called from one place at a
time, and a batch decoded ahead when the loop stops is neither written nor committed: it is
redelivered.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Protocol, TypeVar

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential

from polystream_common.checkpoint import Checkpoint, Deadline, FatalCheckpointError
from polystream_common.codec import InvalidRecord, decode_record
from polystream_common.dlq import DeadLetter
from polystream_common.metrics import ConsumerMetrics, SinkMetrics, observe_many
from polystream_common.schemas import Event
from polystream_common.settings import ConsumerSettings
from polystream_common.sink import (
    DeletingSink,
    Deletion,
    PartitionAwareSink,
    Rejection,
    Sink,
    SinkRecord,
)
from polystream_common.topics import Stream

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
T = TypeVar("T")
TP = tuple[str, int]
RebalanceCallback = Callable[[Any, list[TopicPartition]], None]
DECODE_CHUNK = 250
"""Records decoded between two yields to the event loop (see ``ConsumeLoop.run``)."""
KEEPALIVE_POLL_S = 0.2
"""Longest a poll made to keep the membership may delay the next step once a write ends."""


class FatalSinkError(RuntimeError):
    """A sink failed in a way that is not its records' fault: the service must stop loudly."""


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
    """Records of ``stream`` go to ``sink``, at most ``batch_size`` per write (default: the
    whole polled batch). Several routes may share a stream: each of their sinks gets every
    record."""

    stream: Stream[E]
    sink: Sink[E]
    batch_size: int | None = None

    def namespaced(self, prefix: str) -> Route[E]:
        """The route with its stream's topics under ``prefix`` (see ``Stream.namespaced``)."""
        return replace(self, stream=self.stream.namespaced(prefix))


@dataclass(frozen=True)
class DecodedBatch:
    """A polled batch, decoded: records and deletions per topic for the sinks, dead letters of
    the invalid ones, and the next offset of each partition it covers."""

    records: dict[str, list[SinkRecord[Any]]] = field(default_factory=lambda: defaultdict(list))
    deletions: dict[str, list[Deletion]] = field(default_factory=lambda: defaultdict(list))
    letters: list[DeadLetter] = field(default_factory=list)
    ends: dict[TP, int] = field(default_factory=dict)


def check_routes(routes: Sequence[Route[Any]]) -> None:
    """Refuse a wiring the loop cannot honour; raises ``ValueError`` naming the route."""
    seen: set[tuple[str, str]] = set()
    streams: dict[str, Stream[Any]] = {}
    for route in routes:
        topic, name = route.stream.topic, route.sink.name
        if (topic, name) in seen:
            raise ValueError(f"topic {topic!r} is routed to sink {name!r} twice")
        seen.add((topic, name))
        if streams.setdefault(topic, route.stream) != route.stream:
            raise ValueError(f"topic {topic!r} is routed with two different stream definitions")
        if route.stream.tombstone == "delete" and not isinstance(route.sink, DeletingSink):
            raise ValueError(
                f"sink {name!r} cannot delete, but tombstones on {topic!r} mean delete:"
                " make it a DeletingSink"
            )
        if route.batch_size is not None and route.batch_size < 1:
            raise ValueError(f"route {topic!r} -> {name!r}: batch_size must be at least 1")


@dataclass
class _Isolation:
    """What bisecting one chunk found."""

    rejections: list[Rejection[Any]] = field(default_factory=list)
    failed_alone: int = 0  # records that raised when written alone
    writes_ok: int = 0  # sub-writes that succeeded


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
        check_routes(routes)
        self._consumer = consumer
        self._routes: dict[str, list[Route[Any]]] = defaultdict(list)
        for route in routes:
            self._routes[route.stream.topic].append(route)
        self._streams = {topic: rs[0].stream for topic, rs in self._routes.items()}
        self._checkpoint = checkpoint
        self._settings = settings
        self._metrics = metrics
        self._route_metrics: dict[tuple[str, str], SinkMetrics] = {
            (r.stream.topic, r.sink.name): metrics.for_route(r.stream.topic, r.sink.name)
            for r in routes
        }
        self._running = True
        self._paused = False
        self._assigned: set[TP] = set()
        # Written to the sinks but not checkpointed yet: next offset per partition, dead letters.
        self._written: dict[TP, int] = {}
        self._letters: list[DeadLetter] = []
        self._carry: list[KafkaMessage] = []  # fetched while paused: first in the next batch
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._sink_busy: asyncio.Lock | None = None  # held by every sink call
        self._polling: asyncio.Lock | None = None  # one caller of the consumer at a time
        self._pause_holders = 0  # retries and long writes that need the partitions paused
        # One transaction at a time on the checkpoint's producer: the loop's and a revoke's.
        self._committing = threading.Lock()
        self._checkpointing: asyncio.Task[None] | None = None  # the previous batch's commit
        self._stopped_at = 0.0

    def stop(self) -> None:
        """Ask the loop to finish the batch in flight and exit; safe from a signal handler."""
        if self._running:
            self._stopped_at = time.monotonic()
        self._running = False

    async def run(self) -> None:
        """Consume until :meth:`stop`; raises :class:`FatalSinkError` or
        ``FatalCheckpointError`` when the service must stop and be restarted."""
        self._event_loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._sink_busy = asyncio.Lock()
        self._polling = asyncio.Lock()
        self._consumer.subscribe(
            list(self._routes),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        try:
            ahead: DecodedBatch | None = None  # polled and decoded, not written yet
            while self._running:
                if ahead is None:
                    batch = await self._poll_batch(self._settings.batch_timeout_s)
                    ahead = await self._decode(batch) if batch else None
                    continue
                if not self._settings.pipelined:
                    # Write, then gather the next batch for up to batch_timeout_s.
                    written, ahead = ahead, None
                    await self._store(written)
                    continue
                # Write one batch while the next is polled and decoded, and while the previous
                # one's checkpoint commits: the store, the consumer and the broker work at once.
                # Polling takes only what is fetched already: the write must not wait for it.
                store = asyncio.create_task(self._store(ahead))
                try:
                    batch = await self._poll_batch(0.0)
                    ahead = await self._decode(batch) if batch else None
                finally:
                    await store
        except BaseException:
            await self._settle_checkpoint(quiet=True)  # the first error is the one to raise
            raise
        else:
            await self._settle_checkpoint()
        finally:
            await asyncio.to_thread(self._consumer.close)
            log.info("consumer closed")

    # -- polling ---------------------------------------------------------------------------

    async def _poll_batch(self, timeout_s: float) -> list[KafkaMessage]:
        assert self._polling is not None
        async with self._polling:
            batch, self._carry = self._carry, []
            want = self._settings.batch_size - len(batch)
            if want > 0:
                batch.extend(await asyncio.to_thread(self._consumer.consume, want, timeout_s))
        return batch

    async def _poll_paused(self, timeout_s: float) -> None:
        """One poll with every partition paused: serves the group protocol (heartbeats,
        rebalances) and fetches nothing new; a record already fetched is carried over."""
        assert self._polling is not None
        async with self._polling:
            self._pause()  # covers partitions assigned since the last call
            msg = await asyncio.to_thread(self._consumer.poll, timeout_s)
            if msg is not None and msg.error() is None:
                self._carry.append(msg)

    async def _wait_polling(self, delay_s: float) -> None:
        """Sleep ``delay_s`` while serving the group protocol with paused partitions (tenacity's
        sleep between two attempts)."""
        deadline = time.monotonic() + delay_s
        while (remaining := deadline - time.monotonic()) > 0:
            if not self._running:  # the consumer is about to close: just wait
                await asyncio.sleep(remaining)
                return
            await self._poll_paused(min(remaining, 1.0))

    async def _keeping_membership(self, work: Awaitable[T]) -> T:
        """Await ``work``; if it outlasts ``keepalive_s``, poll with paused partitions until it
        ends, so a long write (a model encoding a batch) never exceeds max.poll.interval.ms."""
        task = asyncio.ensure_future(work)
        try:
            done, _ = await asyncio.wait({task}, timeout=self._settings.keepalive_s)
            if not done:
                self._hold_pause()
                try:
                    while not task.done():
                        poll = asyncio.ensure_future(self._poll_paused(KEEPALIVE_POLL_S))
                        await asyncio.wait({task, poll}, return_when=asyncio.FIRST_COMPLETED)
                        await poll  # one caller of the consumer at a time
                finally:
                    self._release_pause()
            return await task
        except BaseException:
            task.cancel()
            raise

    def _hold_pause(self) -> None:
        """Keep the partitions paused until the matching :meth:`_release_pause`: a write retried
        and a checkpoint retried may overlap, and the first to recover must not resume."""
        self._pause_holders += 1
        self._pause()

    def _release_pause(self) -> None:
        self._pause_holders -= 1
        if self._pause_holders == 0:
            self._resume()

    def _pause(self) -> None:
        self._consumer.pause(self._consumer.assignment())
        if not self._paused:
            self._paused = True
            self._metrics.paused(True)
            # DEBUG: a slow sink (the embedder's model) pauses every batch; the gauge
            # polystream_consumer_paused shows it, and a retry logs its own warning.
            log.debug("partitions paused")

    def _resume(self) -> None:
        if self._paused:
            self._consumer.resume(self._consumer.assignment())
            self._paused = False
            self._metrics.paused(False)
            log.debug("partitions resumed")

    # -- decoding --------------------------------------------------------------------------

    async def _decode(self, batch: Sequence[KafkaMessage]) -> DecodedBatch:
        self._metrics.batch(len(batch))
        decoded = DecodedBatch()
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
            stream = self._streams[topic]
            consumed[topic] += 1
            key, raw = msg.key(), msg.value()
            if raw is None and stream.tombstone == "delete" and key is not None:
                decoded.deletions[topic].append(Deletion(key, topic, partition, offset))
                continue
            try:
                event = decode_record(stream, raw)
            except InvalidRecord as exc:
                decoded.letters.append(
                    DeadLetter(
                        stream.dlq_topic,
                        topic,
                        partition,
                        offset,
                        key,
                        raw,
                        exc.error_class,
                        exc.message,
                    )
                )
                continue
            decoded.records[topic].append(SinkRecord(event, topic, partition, offset, key, raw))
        for topic, n in consumed.items():
            for route in self._routes[topic]:
                self._route_metrics[(topic, route.sink.name)].consumed.inc(n)
        for topic, stream in self._streams.items():
            if stream.tombstone == "delete":
                _keep_latest_per_key(decoded, topic)
        return decoded

    # -- one batch -------------------------------------------------------------------------

    async def _store(self, batch: DecodedBatch) -> None:
        letters = list(batch.letters)
        for topic, routes in self._routes.items():
            records, deletions = batch.records.get(topic, []), batch.deletions.get(topic, [])
            for route in routes if records or deletions else ():
                refused = await self._write_route(route, records, deletions)
                if refused is None:
                    return  # stopping while the sink is down: leave it uncommitted
                letters.extend(refused)
            self._written.update({tp: end for tp, end in batch.ends.items() if tp[0] == topic})
        self._letters.extend(letters)
        # One transaction at a time, in batch order: wait for the previous batch's, then let
        # this one's commit while the next batch is written.
        await self._settle_checkpoint()
        self._checkpointing = asyncio.create_task(self._run_checkpoint(batch.records))

    async def _write_route(
        self, route: Route[Any], records: list[SinkRecord[Any]], deletions: list[Deletion]
    ) -> list[DeadLetter] | None:
        """Write ``records`` and apply ``deletions`` to one sink; the dead letters of what it
        refused, or None if the loop stopped while the sink was down."""
        letters: list[DeadLetter] = []
        size = route.batch_size or len(records) or 1
        for start in range(0, len(records), size):
            chunk = records[start : start + size]
            rejections = await self._write_isolating(route, chunk)
            if rejections is None:
                return None
            letters.extend(_letter_for(route, r) for r in rejections)
        if deletions:
            sink = route.sink
            assert isinstance(sink, DeletingSink)  # check_routes made sure
            done = await self._attempt(sink, lambda: self._sink_call(sink.delete(deletions)))
            if isinstance(done, _Stopped):
                return None
            self._route_metrics[(route.stream.topic, sink.name)].deleted.inc(len(deletions))
        return letters

    async def _write_isolating(
        self, route: Route[Any], chunk: list[SinkRecord[Any]]
    ) -> list[Rejection[Any]] | None:
        """Write ``chunk``; on a non-transient error, bisect it to isolate the failing records.

        Returns what the store refused (rejections and the records that failed alone), or None if
        the loop stopped while the sink was down. Raises :class:`FatalSinkError` when nothing in a
        chunk of two or more records writes at all: the fault is not the records'.
        """
        found = _Isolation()
        if not await self._write_or_bisect(route, chunk, found):
            return None
        if found.failed_alone and found.writes_ok == 0 and len(chunk) > 1:
            self._metrics.fatal_stop("sink")
            raise FatalSinkError(
                f"sink {route.sink.name!r} failed every record of a batch of {len(chunk)} on its"
                f" own: {found.rejections[0].error_class}: {found.rejections[0].message}"
            )
        return found.rejections

    async def _write_or_bisect(
        self, route: Route[Any], records: list[SinkRecord[Any]], found: _Isolation
    ) -> bool:
        sink = route.sink
        metrics = self._route_metrics[(route.stream.topic, sink.name)]
        try:
            result = await self._attempt(
                sink, lambda: self._sink_call(sink.write(records)), metrics, len(records)
            )
        except Exception as exc:  # not transient: the records' fault, or a bug
            metrics.failed.inc(len(records))
            if len(records) == 1:
                found.failed_alone += 1
                found.rejections.append(Rejection(records[0], type(exc).__name__, str(exc)))
                log.warning(
                    "a record fails its sink: to the DLQ",
                    extra={"sink": sink.name, "offset": records[0].offset, "error": repr(exc)},
                )
                return True
            self._metrics.bisection(sink.name)
            middle = len(records) // 2
            return await self._write_or_bisect(
                route, records[:middle], found
            ) and await self._write_or_bisect(route, records[middle:], found)
        if isinstance(result, _Stopped):
            return False
        found.writes_ok += 1
        found.rejections.extend(result)
        metrics.written.inc(len(records) - len(result))
        return True

    async def _sink_call(self, call: Awaitable[T]) -> T:
        """One sink call, under the lock the partition hooks wait on, kept alive while long."""
        assert self._sink_busy is not None

        async def locked() -> T:
            assert self._sink_busy is not None
            async with self._sink_busy:
                return await call

        return await self._keeping_membership(locked())

    async def _attempt(
        self,
        sink: Sink[Any],
        attempt: Callable[[], Awaitable[T]],
        metrics: SinkMetrics | None = None,
        size: int = 0,
    ) -> T | _Stopped:
        """Run ``attempt``, retrying the sink's transient errors with backoff (partitions paused
        and polled meanwhile). Raises a non-transient error; :data:`_STOPPED` if the loop stops
        while the sink is still down."""
        return await self._retrying(sink.name, sink.is_transient, attempt, metrics, size)

    async def _retrying(
        self,
        target: str,
        transient: Callable[[BaseException], bool],
        attempt: Callable[[], Awaitable[T]],
        metrics: SinkMetrics | None = None,
        size: int = 0,
        grace_s: float = 0.0,
    ) -> T | _Stopped:
        """Run ``attempt`` until it succeeds, retrying ``transient`` errors with backoff while
        the loop runs (and ``grace_s`` after it is stopped)."""
        holding = False

        def stopped(_state: RetryCallState) -> bool:
            return not self._running and time.monotonic() - self._stopped_at >= grace_s

        def on_retry(state: RetryCallState) -> None:
            nonlocal holding
            if not holding:
                holding = True
                self._hold_pause()
            exc = state.outcome.exception() if state.outcome else None
            self._metrics.failing(target, exc)
            if metrics is not None:
                metrics.failed.inc(size)
            log.warning(
                "write failed, retrying",
                extra={
                    "target": target,
                    "error": repr(exc),
                    "retry_in_s": round(state.upcoming_sleep, 3),
                },
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception(transient),
            wait=backoff(self._settings),
            stop=stopped,
            sleep=self._wait_polling,
            before_sleep=on_retry,
            reraise=True,
        )

        async def timed() -> T:
            started = time.perf_counter()
            result = await attempt()
            self._metrics.write_seconds(target).observe(time.perf_counter() - started)
            return result

        try:
            result: T = await retrying(timed)
        except Exception as exc:
            if transient(exc) and stopped(None):  # type: ignore[arg-type]
                return _STOPPED
            raise
        finally:
            if holding:
                self._release_pause()
        self._metrics.sink_up(target, True)
        return result

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

    async def _settle_checkpoint(self, *, quiet: bool = False) -> None:
        """Wait for the checkpoint in flight; its fatal error propagates (the service must
        stop), unless ``quiet``: another error is already on its way out."""
        task, self._checkpointing = self._checkpointing, None
        if task is None:
            return
        if not quiet:
            await task
            return
        try:
            await task
        except Exception:
            log.exception("checkpoint failed while the loop was stopping")

    async def _run_checkpoint(self, records: dict[str, list[SinkRecord[Any]]]) -> None:
        """Commit what is written: dead letters and offsets, in one transaction."""
        letters, offsets = self._take_pending(self._assigned)
        timeout_s = self._settings.checkpoint_timeout_s

        def commit_ours() -> None:
            # Partitions revoked meanwhile were checkpointed by the callback or belong to another
            # member now, which redelivers them: only what is still ours is committed, decided
            # under the lock the revoke callback holds while it commits and gives them up.
            with self._committing:
                mine = [o for o in offsets if (o.topic, o.partition) in self._assigned]
                dead = [d for d in letters if (d.topic, d.partition) in self._assigned]
                self._checkpoint.commit(dead, mine, timeout_s)
                offsets[:], letters[:] = mine, dead

        async def commit() -> bool:
            await asyncio.to_thread(commit_ours)
            return True

        def transient(exc: BaseException) -> bool:
            return not isinstance(exc, FatalCheckpointError)

        try:
            # A stop lets the last checkpoint try a while longer: what is written is committed.
            grace_s = self._settings.checkpoint_timeout_s
            if isinstance(
                await self._retrying("checkpoint", transient, commit, grace_s=grace_s), _Stopped
            ):
                return  # stopped while the broker is down: redelivered on the next start
        except FatalCheckpointError:
            self._metrics.fatal_stop("checkpoint")
            raise
        self._store_offsets(offsets)
        self._observe_end_to_end(records)
        for letter in letters:
            self._metrics.dlq(letter.topic, letter.error_class)
        if letters:
            first = letters[0]
            log.warning(
                "records sent to the DLQ",
                extra={
                    "count": len(letters),
                    "first": (first.topic, first.partition, first.offset, first.error_class),
                },
            )

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
            if not batch:
                continue
            latencies = [max(0.0, now - r.value.event_time.timestamp()) for r in batch]
            for route in self._routes[topic]:
                observe_many(self._route_metrics[(topic, route.sink.name)].end_to_end, latencies)

    # -- rebalance callbacks (run inside consume()/poll(), in a worker thread) ---------------

    def _on_assign(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        assigned = [(tp.topic, tp.partition) for tp in partitions]
        self._assigned.update(assigned)
        self._run_hooks("on_assign", assigned, Deadline(self._settings.rebalance_timeout_s))
        log.info("partitions assigned", extra={"partitions": _names(partitions)})

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        deadline = Deadline(self._settings.rebalance_timeout_s)
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        self._wait_for_sinks(deadline)
        # The loop's checkpoint in flight finishes first; then this one; then the partitions go.
        if self._committing.acquire(timeout=deadline.remaining()):
            try:
                letters, offsets = self._take_pending(revoked)
                if letters or offsets:
                    try:
                        self._checkpoint.commit(letters, offsets, deadline.remaining())
                    except Exception as exc:  # the next owner redelivers them (idempotent sinks)
                        self._metrics.commit_failed()
                        log.warning("checkpoint on revoke failed", extra={"error": repr(exc)})
                self._assigned -= revoked
            finally:
                self._committing.release()
        else:
            self._take_pending(revoked)
            self._assigned -= revoked
            log.error("checkpoint on revoke skipped: the one in flight passed the deadline")
        self._run_hooks("on_revoke", sorted(revoked), deadline)
        log.info("partitions revoked", extra={"partitions": _names(partitions)})

    def _on_lost(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        lost = {(tp.topic, tp.partition) for tp in partitions}
        self._take_pending(lost)  # another member owns them now: it redelivers
        self._assigned -= lost
        self._run_hooks("on_revoke", sorted(lost), Deadline(self._settings.rebalance_timeout_s))
        log.warning("partitions lost", extra={"partitions": _names(partitions)})

    def _wait_for_sinks(self, deadline: Deadline) -> None:
        """Let a write in flight (one that outlasted ``keepalive_s``) finish first."""
        if self._sink_busy is None or not self._sink_busy.locked():
            return

        async def idle() -> None:
            assert self._sink_busy is not None
            async with self._sink_busy:
                pass

        self._in_event_loop(idle(), deadline, "waiting for the write in flight")

    def _run_hooks(self, hook: str, partitions: list[TP], deadline: Deadline) -> None:
        """Call ``hook`` of each partition-aware sink with its share of ``partitions``."""
        sinks = {
            id(r.sink): r.sink
            for topic, routes in self._routes.items()
            for r in routes
            if isinstance(r.sink, PartitionAwareSink) and any(t == topic for t, _ in partitions)
        }
        for sink in sinks.values():
            own = [(t, p) for t, p in partitions if any(r.sink is sink for r in self._routes[t])]
            self._in_event_loop(
                getattr(sink, hook)(own), deadline, f"{sink.name}.{hook}", with_sink_lock=True
            )

    def _in_event_loop(
        self,
        work: Coroutine[Any, Any, None],
        deadline: Deadline,
        what: str,
        *,
        with_sink_lock: bool = False,
    ) -> None:
        """Run ``work`` on the loop's event loop from a rebalance callback and wait for it, at
        most until ``deadline``: the event loop is free meanwhile, awaiting this very poll."""
        loop = self._event_loop
        if loop is None or threading.get_ident() == self._loop_thread:
            work.close()
            raise RuntimeError("rebalance callbacks must run in the polling thread")

        async def guarded() -> None:
            assert self._sink_busy is not None
            if with_sink_lock:
                async with self._sink_busy:
                    await work
            else:
                await work

        future = asyncio.run_coroutine_threadsafe(guarded(), loop)
        try:
            future.result(timeout=deadline.remaining())
        except TimeoutError:
            future.cancel()
            log.error("rebalance step passed its deadline", extra={"step": what})
        except Exception as exc:
            log.error("rebalance step failed", extra={"step": what, "error": repr(exc)})


def backoff(settings: ConsumerSettings) -> wait_random_exponential:
    """The wait between two retries, for every retry a consumer service makes."""
    return wait_random_exponential(
        multiplier=settings.backoff_initial_s, max=settings.backoff_max_s
    )


class _Stopped:
    """The loop stopped while a target was still failing."""


_STOPPED = _Stopped()


def _keep_latest_per_key(decoded: DecodedBatch, topic: str) -> None:
    """On a table stream, keep only the latest record or deletion of each key in the batch, so
    a key is written or deleted, never both, and the order of the two calls does not matter."""
    records, deletions = decoded.records.get(topic, []), decoded.deletions.get(topic, [])
    if not deletions and len(records) < 2:
        return
    latest: dict[bytes, SinkRecord[Any] | Deletion] = {}
    unkeyed: list[SinkRecord[Any]] = []
    items: list[SinkRecord[Any] | Deletion] = [*records, *deletions]
    for item in sorted(items, key=lambda x: (x.partition, x.offset)):
        if item.key is None:
            assert isinstance(item, SinkRecord)
            unkeyed.append(item)
        else:
            latest[item.key] = item
    decoded.records[topic] = unkeyed + [x for x in latest.values() if isinstance(x, SinkRecord)]
    decoded.deletions[topic] = [x for x in latest.values() if isinstance(x, Deletion)]


def _letter_for(route: Route[Any], rejection: Rejection[Any]) -> DeadLetter:
    """The dead letter of a refused record: its original bytes, and the sink that refused it."""
    record = rejection.record
    return DeadLetter(
        route.stream.dlq_topic,
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.raw if record.raw is not None else route.stream.encode(record.value),
        rejection.error_class,
        rejection.message,
        sink=route.sink.name,
    )


def _names(partitions: list[TopicPartition]) -> list[str]:
    return [f"{tp.topic}[{tp.partition}]" for tp in partitions]
