"""Load runs: poison records and their counts, pacing, the publishing loop and the report."""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from polystream_common.codec import InvalidRecord, decode_record
from polystream_common.topics import STREAMS_BY_TOPIC
from producer.generators import STREAM_KINDS, World
from producer.load import (
    STREAM_OF_KIND,
    DeliveryStats,
    LoadRun,
    Progress,
    TokenBucket,
    build_report,
    parse_mix,
    percentile,
    publish,
)
from producer.poison import POISON_KINDS, poison

START = datetime(2026, 1, 1, tzinfo=UTC)
EXPECTED_ERROR = {
    "malformed-json": "InvalidJSON",
    "invalid-value": "SchemaViolation",
    "wrong-type": "SchemaViolation",
}


def load_run(mix: str, seed: int = 7, poison_rate: float = 0.0) -> LoadRun:
    return LoadRun(World.build(seed, clock=lambda: START), parse_mix(mix), seed, poison_rate)


@pytest.mark.parametrize("kind", POISON_KINDS)
@pytest.mark.parametrize("stream_kind", STREAM_KINDS)
def test_every_poison_kind_is_refused_by_the_consumer_with_its_error_class(
    kind: str, stream_kind: str
) -> None:
    stream = STREAM_OF_KIND[stream_kind]
    rng = random.Random(1)
    events = itertools.islice(World.build(2, clock=lambda: START).stream(stream_kind), 60)
    for event in events:
        raw = poison(stream.topic, stream.encode(event), kind, rng)
        with pytest.raises(InvalidRecord) as info:
            decode_record(stream, raw)
        assert info.value.error_class == EXPECTED_ERROR[kind]


def test_unknown_poison_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown poison kind"):
        poison("sensor.readings", b"{}", "gremlins", random.Random(0))


def test_poisoned_records_are_exactly_the_flagged_ones_and_deterministic() -> None:
    mix = "sensors=3,user-events=2,chat=1,products=1"
    records = list(itertools.islice(load_run(mix, poison_rate=0.05).records(), 20_000))
    again = list(itertools.islice(load_run(mix, poison_rate=0.05).records(), 20_000))
    assert records == again
    flagged = 0
    for topic, key, value, bad in records:
        stream = STREAMS_BY_TOPIC[topic]
        if bad is None:
            assert decode_record(stream, value).key() == key
        else:
            flagged += 1
            with pytest.raises(InvalidRecord):
                decode_record(stream, value)
    assert 0.04 * len(records) < flagged < 0.06 * len(records)
    assert {bad for *_, bad in records} == {None, *POISON_KINDS}
    assert {topic for topic, *_ in records} == {s.topic for s in STREAM_OF_KIND.values()}


def test_the_mix_weights_shape_the_stream_shares() -> None:
    records = itertools.islice(load_run("sensors=3,chat=1").records(), 8_000)
    topics = [topic for topic, *_ in records]
    assert 0.70 < topics.count("sensor.readings") / len(topics) < 0.80
    assert set(topics) == {"sensor.readings", "chat.messages"}


def test_mix_parsing_and_errors() -> None:
    assert parse_mix("sensors=2, chat=0.5,products=0") == {"sensors": 2.0, "chat": 0.5}
    assert parse_mix("sensors") == {"sensors": 1.0}
    with pytest.raises(ValueError, match="unknown stream"):
        parse_mix("weather=1")
    with pytest.raises(ValueError, match="positive"):
        parse_mix("sensors=0")
    with pytest.raises(ValueError, match="not a number"):
        parse_mix("sensors=lots")
    with pytest.raises(ValueError, match=">= 0"):
        parse_mix("sensors=1,chat=-1")


def test_percentiles_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) == 0.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_paces_and_caps_bursts() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, burst=5, clock=clock)
    assert bucket.take() == 0.0  # the first record goes at once
    assert bucket.take() == pytest.approx(0.01)
    clock.now = 10.0  # a long stall refills only up to the burst
    assert [bucket.take() for _ in range(5)] == [0.0] * 5
    assert bucket.take() > 0
    with pytest.raises(ValueError):
        TokenBucket(0)


@dataclass
class FakeMessage:
    _latency: float

    def latency(self) -> float:
        return self._latency


@dataclass
class FakeSender:
    """Acks every record at once, with a latency of 1 ms per record already sent."""

    stats: DeliveryStats
    sent: list[tuple[str, bytes | None, bytes | None]] = field(default_factory=list)
    delivered: int = 0

    def send_raw(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        self.sent.append((topic, key, value))
        self.delivered += 1
        self.stats(None, FakeMessage(len(self.sent) / 1000))  # type: ignore[arg-type]

    def poll(self, timeout: float = 0) -> int:
        return 0


def test_publish_sends_the_count_and_the_report_counts_poison_per_topic_and_kind() -> None:
    stats = DeliveryStats()
    sender = FakeSender(stats)
    progress: list[Progress] = []
    records = load_run("sensors=1,user-events=1", poison_rate=0.1).records()
    tally = publish(records, sender, count=5_000, on_progress=progress.append)
    assert tally.sent == len(sender.sent) == 5_000
    assert tally.bytes == sum(len(v or b"") for *_, v in sender.sent)
    assert sum(tally.per_topic.values()) == 5_000

    report = build_report(tally, sender.delivered, stats.errors, 2.0, stats)
    assert report.acked == 5_000 and report.errors == 0
    assert report.messages_per_s == 2_500.0
    assert report.avg_record_bytes == round(tally.bytes / 5_000, 1)
    assert report.latency_ms == {"p50": 2500.0, "p95": 4750.0, "p99": 4950.0}
    assert set(report.poison) == {"sensor.readings", "user.events"}
    assert sum(report.poison.values()) == sum(tally.poison.values())
    for topic, count in report.poison.items():
        assert sum(report.poison_kinds[topic].values()) == count
        refused = 0
        for t, _, value in sender.sent:
            if t == topic:
                try:
                    decode_record(STREAMS_BY_TOPIC[t], value)
                except InvalidRecord:
                    refused += 1
        assert refused == count  # the e2e test relies on this count being exact


def test_a_report_counts_unacked_records_as_errors() -> None:
    stats = DeliveryStats()
    stats(object(), FakeMessage(0.0))  # type: ignore[arg-type]
    tally = publish(load_run("sensors=1").records(), FakeSender(DeliveryStats()), count=10)
    report = build_report(tally, 8, stats.errors, 1.0, stats)
    assert report.errors == 2 and report.latency_ms == {"p50": 0.0, "p95": 0.0, "p99": 0.0}


def test_publish_stops_when_asked() -> None:
    stop = threading.Event()
    stop.set()
    tally = publish(load_run("sensors=1").records(), FakeSender(DeliveryStats()), stop=stop)
    assert tally.sent == 0


def test_a_run_rejects_a_poison_rate_outside_0_to_1() -> None:
    with pytest.raises(ValueError):
        load_run("sensors=1", poison_rate=1.5)


def test_a_topic_prefix_moves_every_record_and_its_poison_to_the_namespaced_topics() -> None:
    mix = "sensors=1,user-events=1,chat=1,products=1"
    plain = list(itertools.islice(load_run(mix, poison_rate=0.05).records(), 5_000))
    prefixed = LoadRun(
        World.build(7, clock=lambda: START), parse_mix(mix), 7, 0.05, topic_prefix="e2e-1."
    )
    namespaced = list(itertools.islice(prefixed.records(), 5_000))
    # The same records, each on its stream's topic under the prefix; poison made for its stream.
    assert [(f"e2e-1.{t}", k, v, b) for t, k, v, b in plain] == namespaced
