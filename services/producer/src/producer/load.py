"""Load test: publish a mix of streams at a target rate (or flat out) and report throughput and
delivery latency, with live progress on stderr."""

from __future__ import annotations

import itertools
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message

from polystream_common.kafka import EventProducer
from polystream_common.schemas import Event
from polystream_common.settings import KafkaSettings, ProducerSettings
from polystream_common.topics import CHAT_MESSAGES, PRODUCTS, SENSOR_READINGS, USER_EVENTS, Stream
from producer.generators import World
from producer.poison import pick_kind, poison

STREAM_OF_KIND: dict[str, Stream[Any]] = {
    "sensors": SENSOR_READINGS,
    "user-events": USER_EVENTS,
    "chat": CHAT_MESSAGES,
    "products": PRODUCTS,
}


def parse_mix(text: str) -> dict[str, float]:
    """``sensors=1,chat=0.5`` -> weights; unknown kinds and a zero total are errors."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, weight = part.partition("=")
        if kind not in STREAM_OF_KIND:
            raise ValueError(f"unknown stream {kind!r}; known: {', '.join(STREAM_OF_KIND)}")
        mix[kind] = float(weight or 1)
    if sum(mix.values()) <= 0:
        raise ValueError("the mix needs a positive weight")
    return {k: w for k, w in mix.items() if w > 0}


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values), max(1, math.ceil(q / 100 * len(sorted_values)))) - 1
    return sorted_values[rank]


@dataclass
class LoadReport:
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
    poison: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LoadRun:
    """One load run; ``records()`` yields (stream, key, value, poison kind or None)."""

    def __init__(
        self, world: World, mix: dict[str, float], seed: int, poison_rate: float = 0.0
    ) -> None:
        self._world, self._rng, self._poison_rate = world, random.Random(seed ^ 0x5EED), poison_rate
        self._kinds = list(mix)
        self._weights = list(mix.values())
        self._streams = {kind: world.stream(kind) for kind in mix}

    def records(self) -> Iterator[tuple[Stream[Any], bytes, bytes, str | None]]:
        rng, single = self._rng, len(self._kinds) == 1
        while True:
            kind = self._kinds[0] if single else rng.choices(self._kinds, self._weights)[0]
            stream = STREAM_OF_KIND[kind]
            event: Event = next(self._streams[kind])
            if self._poison_rate and rng.random() < self._poison_rate:
                bad = pick_kind(rng)
                yield stream, event.key(), poison(stream, event, bad), bad
            else:
                yield stream, event.key(), stream.encode(event), None


def run_load(
    run: LoadRun,
    kafka: KafkaSettings,
    settings: ProducerSettings,
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
    latencies: list[float] = []
    report = LoadReport()

    def delivered(err: KafkaError | None, msg: Message) -> None:
        if err is None:
            latencies.append(msg.latency() or 0.0)

    producer = EventProducer.build(
        kafka, settings, client_id="producer-load", service="producer", listener=delivered
    )
    per_topic: Counter[str] = Counter()
    poisoned: Counter[str] = Counter()
    records: Iterable[tuple[Stream[Any], bytes, bytes, str | None]] = run.records()
    if pregenerate and count is not None:
        records = list(itertools.islice(records, count))
    started = last_progress = time.perf_counter()
    deadline = started + duration_s if duration_s else float("inf")
    for stream, key, value, bad in records:
        if count is not None and report.sent >= count:
            break
        now = time.perf_counter()
        if now >= deadline:
            break
        if rate > 0:  # pace: the n-th record goes out no earlier than n / rate
            ahead = report.sent / rate - (now - started)
            if ahead > 0:
                producer.poll(min(ahead, 0.1))
        producer.send_raw(stream.topic, key, value)
        report.sent += 1
        report.bytes += len(value)
        per_topic[stream.topic] += 1
        if bad:
            poisoned[stream.topic] += 1
        if progress and now - last_progress >= 1.0:
            last_progress = now
            elapsed = now - started
            print(
                f"\r{report.sent / elapsed:10.0f} msg/s  sent {report.sent:>10}  "
                f"acked {producer.delivered:>10}  errors {len(producer.failed):>4}",
                end="",
                file=sys.stderr,
                flush=True,
            )
    failed = len(producer.failed)
    try:
        producer.flush()
    except Exception as exc:  # counted below; the report says how many failed
        print(f"\n{exc}", file=sys.stderr)
    report.seconds = time.perf_counter() - started
    report.acked = producer.delivered
    report.errors = max(failed, report.sent - report.acked)
    report.messages_per_s = round(report.acked / report.seconds, 1)
    report.mb_per_s = round(report.bytes / report.seconds / 1e6, 3)
    report.avg_record_bytes = round(report.bytes / max(report.sent, 1), 1)
    ordered = sorted(latencies)
    report.latency_ms = {f"p{q}": round(percentile(ordered, q) * 1000, 2) for q in (50, 95, 99)}
    report.per_topic = dict(per_topic)
    report.poison = dict(poisoned)
    if progress:
        print(file=sys.stderr)
    return report
