"""Publishing a mix of streams: the load test (flat out or paced, with a report) and the steady
stream of ``run``.

The hot path is kept short on purpose: sensor readings come pre-encoded from
:meth:`SensorFleet.encoded`, the clock is read every few hundred records when not pacing, and
delivery results are tallied by one bound callback.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import sys
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from confluent_kafka import KafkaError, Message

from polystream_common.kafka import DeliveryError, EventProducer
from polystream_common.topics import CHAT_MESSAGES, PRODUCTS, SENSOR_READINGS, USER_EVENTS, Stream
from producer.generators import World
from producer.poison import POISON_KINDS, poison

log = logging.getLogger(__name__)

STREAM_OF_KIND: dict[str, Stream[Any]] = {
    "sensors": SENSOR_READINGS,
    "user-events": USER_EVENTS,
    "chat": CHAT_MESSAGES,
    "products": PRODUCTS,
}

Record = tuple[str, bytes, bytes, str | None]
"""(topic, key, value, poison kind or None): one record ready to publish."""


def parse_mix(text: str) -> dict[str, float]:
    """``sensors=1,chat=0.5`` -> weights; unknown kinds and a zero total are errors."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, weight = part.partition("=")
        kind = kind.strip()
        if kind not in STREAM_OF_KIND:
            raise ValueError(f"unknown stream {kind!r}; known: {', '.join(STREAM_OF_KIND)}")
        try:
            mix[kind] = float(weight or 1)
        except ValueError:
            raise ValueError(f"weight of {kind!r} is not a number: {weight!r}") from None
        if mix[kind] < 0 or not math.isfinite(mix[kind]):
            raise ValueError(f"weight of {kind!r} must be a finite number >= 0")
    if sum(mix.values()) <= 0:
        raise ValueError("the mix needs a positive weight")
    return {k: w for k, w in mix.items() if w > 0}


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values), max(1, math.ceil(q / 100 * len(sorted_values)))) - 1
    return sorted_values[rank]


class TokenBucket:
    """Paces records to ``rate`` per second, allowing bursts of ``burst`` records (by default
    50 ms worth) after a stall, never a catch-up flood."""

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate / 20)
        self._clock = clock
        self._tokens = 1.0
        self._last = clock()

    def take(self) -> float:
        """Take a token and return 0, or return the seconds to wait before one is there."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


class LoadRun:
    """The records of one run, deterministic under ``seed``: a weighted mix of streams with a
    share ``poison_rate`` of poison records (kinds from :data:`POISON_KINDS`), published to the
    streams' topics under ``topic_prefix`` (``KafkaSettings.topic_prefix``)."""

    def __init__(
        self,
        world: World,
        mix: dict[str, float],
        seed: int,
        poison_rate: float = 0.0,
        topic_prefix: str = "",
    ) -> None:
        if not 0 <= poison_rate <= 1:
            raise ValueError("poison rate must be between 0 and 1")
        self._world, self._poison_rate, self._prefix = world, poison_rate, topic_prefix
        self._rng = random.Random(seed ^ 0x5EED)
        self._kinds = list(mix)
        self._weights = list(itertools.accumulate(mix.values()))

    def _stream(self, kind: str) -> Iterator[tuple[bytes, bytes]]:
        if kind == "sensors":
            encoded = self._world.sensors.encoded
            while True:
                yield encoded()
        stream = STREAM_OF_KIND[kind]
        for event in self._world.stream(kind):
            yield event.key(), stream.encode(event)

    def records(self) -> Iterator[Record]:
        rng, rate = self._rng, self._poison_rate
        # (topic published to, the stream's own topic that poison is made for, source)
        streams = [
            (
                STREAM_OF_KIND[k].namespaced(self._prefix).topic,
                STREAM_OF_KIND[k].topic,
                self._stream(k),
            )
            for k in self._kinds
        ]
        if len(streams) == 1 and not rate:  # the benchmark's case: nothing to draw per record
            topic, _, source = streams[0]
            for key, value in source:
                yield topic, key, value, None
        while True:
            topic, base, source = streams[0] if len(streams) == 1 else self._pick(streams)
            key, value = next(source)
            if rate and rng.random() < rate:
                bad = POISON_KINDS[int(rng.random() * len(POISON_KINDS))]
                yield topic, key, poison(base, value, bad, rng), bad
            else:
                yield topic, key, value, None

    def _pick(
        self, streams: list[tuple[str, str, Iterator[tuple[bytes, bytes]]]]
    ) -> tuple[str, str, Iterator[tuple[bytes, bytes]]]:
        return self._rng.choices(streams, cum_weights=self._weights)[0]


class Sender(Protocol):
    """What publishing needs of a producer (``EventProducer`` is the real one)."""

    delivered: int

    def send_raw(self, topic: str, key: bytes | None, value: bytes | None) -> None: ...

    def poll(self, timeout: float = 0) -> int: ...


class DeliveryStats:
    """The delivery listener: latency of every acked record, count of failed ones."""

    def __init__(self) -> None:
        self.latencies = array("d")
        self.errors = 0

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.latencies.append(msg.latency() or 0.0)
        else:
            self.errors += 1

    def latency_ms(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        return {f"p{q}": round(percentile(ordered, q) * 1000, 2) for q in (50, 95, 99)}


@dataclass(frozen=True)
class Progress:
    """A once-a-second snapshot of a run."""

    elapsed_s: float
    rate: float  # records/s over the last interval
    sent: int
    acked: int
    errors: int


@dataclass
class Tally:
    sent: int = 0
    bytes: int = 0
    per_topic: Counter[str] = field(default_factory=Counter)
    poison: Counter[tuple[str, str]] = field(default_factory=Counter)


def publish(
    records: Iterable[Record],
    producer: Sender,
    *,
    rate: float = 0.0,
    count: int | None = None,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    errors: Callable[[], int] = lambda: 0,
) -> Tally:
    """Send ``records`` until ``count`` are sent, ``duration_s`` passed or ``stop`` is set;
    ``rate`` 0 means as fast as possible. Returns what was sent; the caller flushes."""
    tally = Tally()
    per_topic, poisoned = tally.per_topic, tally.poison
    send = producer.send_raw
    bucket = TokenBucket(rate) if rate > 0 else None
    # Flat out, reading the clock every record would cost more than the pacing it serves.
    check_every = 1 if bucket else 256
    limit = count if count is not None else math.inf
    started = last_beat = time.monotonic()
    deadline = started + duration_s if duration_s else math.inf
    sent = nbytes = next_check = last_sent = 0
    for topic, key, value, bad in records:
        if sent >= limit:
            break
        if sent >= next_check:
            next_check = sent + check_every
            now = time.monotonic()
            if now >= deadline or (stop is not None and stop.is_set()):
                break
            if on_progress is not None and now - last_beat >= 1.0:
                interval, last_beat = now - last_beat, now
                on_progress(
                    Progress(
                        now - started,
                        (sent - last_sent) / interval,
                        sent,
                        producer.delivered,
                        errors(),
                    )
                )
                last_sent = sent
            if bucket is not None:
                while (wait := bucket.take()) > 0:
                    producer.poll(min(wait, 0.1))  # serve delivery callbacks meanwhile
                    if stop is not None and stop.is_set():
                        break
        send(topic, key, value)
        sent += 1
        nbytes += len(value)
        per_topic[topic] += 1
        if bad is not None:
            poisoned[topic, bad] += 1
    tally.sent, tally.bytes = sent, nbytes
    return tally


def print_progress(progress: Progress) -> None:
    """The load test's live line on stderr."""
    print(
        f"\r{progress.elapsed_s:7.0f}s {progress.rate:10.0f} msg/s  sent {progress.sent:>10}  "
        f"acked {progress.acked:>10}  errors {progress.errors:>6}",
        end="",
        file=sys.stderr,
        flush=True,
    )


@dataclass
class LoadReport:
    """What ``python -m producer load`` writes with ``--json``."""

    sent: int = 0
    acked: int = 0
    errors: int = 0
    bytes: int = 0
    seconds: float = 0.0
    messages_per_s: float = 0.0
    mb_per_s: float = 0.0
    avg_record_bytes: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    per_topic: dict[str, int] = field(default_factory=dict)
    poison: dict[str, int] = field(default_factory=dict)  # topic -> poison records sent
    poison_kinds: dict[str, dict[str, int]] = field(default_factory=dict)  # topic -> kind -> n

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_report(
    tally: Tally, acked: int, errors: int, seconds: float, stats: DeliveryStats
) -> LoadReport:
    """The report of a finished run (``seconds`` includes the final flush)."""
    kinds: dict[str, dict[str, int]] = {}
    for (topic, kind), n in sorted(tally.poison.items()):
        kinds.setdefault(topic, {})[kind] = n
    seconds = max(seconds, 1e-9)
    return LoadReport(
        sent=tally.sent,
        acked=acked,
        errors=max(errors, tally.sent - acked),
        bytes=tally.bytes,
        seconds=round(seconds, 3),
        messages_per_s=round(acked / seconds, 1),
        mb_per_s=round(tally.bytes / seconds / 1e6, 3),
        avg_record_bytes=round(tally.bytes / max(tally.sent, 1), 1),
        latency_ms=stats.latency_ms(),
        per_topic=dict(tally.per_topic),
        poison={topic: sum(by_kind.values()) for topic, by_kind in kinds.items()},
        poison_kinds=kinds,
    )


def run_load(
    run: LoadRun,
    producer_factory: Callable[[DeliveryStats], EventProducer],
    *,
    rate: float,
    count: int | None,
    duration_s: float | None,
    progress: bool = True,
    pregenerate: bool = False,
) -> LoadReport:
    """Publish until ``count`` records or ``duration_s`` seconds; ``rate`` 0 means flat out.

    ``pregenerate`` (with ``count``) builds and encodes every record before the clock starts, as
    Kafka's ProducerPerformance does with its payload: the figure is then the publishing path
    alone, comparable with that tool.
    """
    stats = DeliveryStats()
    producer = producer_factory(stats)
    records: Iterable[Record] = run.records()
    if pregenerate and count is not None:
        records = list(itertools.islice(records, count))
    started = time.monotonic()
    tally = publish(
        records,
        producer,
        rate=rate,
        count=count,
        duration_s=duration_s,
        on_progress=print_progress if progress else None,
        errors=lambda: stats.errors,
    )
    try:
        producer.flush()
    except DeliveryError as exc:  # counted in the report; it says how many failed
        log.error("load run ended with undelivered records: %s", exc)
    seconds = time.monotonic() - started
    if progress:
        print(file=sys.stderr)
    return build_report(tally, producer.delivered, stats.errors, seconds, stats)


def run_steady(
    run: LoadRun, producer: EventProducer, *, rate: float, stop: threading.Event
) -> Tally:
    """Publish at ``rate`` until ``stop`` is set, logging progress every 30 s; then flush."""
    last_logged = 0.0

    def log_progress(progress: Progress) -> None:
        nonlocal last_logged
        if progress.elapsed_s - last_logged >= 30:
            last_logged = progress.elapsed_s
            log.info(
                "publishing",
                extra={"rate": round(progress.rate, 1), "sent": progress.sent},
            )

    tally = publish(run.records(), producer, rate=rate, stop=stop, on_progress=log_progress)
    producer.flush(timeout=30)
    return tally
