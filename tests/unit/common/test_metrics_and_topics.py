"""The batch histogram counts like per-value observe(); the registry keeps keyed streams
co-partitioned; a fatal loop error becomes a non-zero exit."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Histogram

from polystream_common import runtime
from polystream_common.loop import FatalSinkError
from polystream_common.metrics import LATENCY_BUCKETS, observe_many
from polystream_common.settings import ConsumerServiceSettings
from polystream_common.topics import STREAMS


def samples(histogram: Histogram) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("le", "")): s.value
        for metric in histogram.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def test_observe_many_counts_exactly_like_observe() -> None:
    rng = random.Random(3)
    values = [rng.expovariate(2.0) for _ in range(5_000)] + [0.0, 0.001, 0.005, 60, 500.0]
    registry = CollectorRegistry()
    one = Histogram("one", "x", buckets=LATENCY_BUCKETS, registry=registry)
    many = Histogram("many", "x", buckets=LATENCY_BUCKETS, registry=registry)
    for v in values:
        one.observe(v)
    observe_many(many, values[:1000])
    observe_many(many, values[1000:])
    observe_many(many, [])
    got = {(n.replace("many", "one"), le): v for (n, le), v in samples(many).items()}
    want = samples(one)
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value), key


def test_streams_keyed_by_the_same_entity_are_co_partitioned() -> None:
    partitions: dict[str, set[int]] = defaultdict(set)
    for stream in STREAMS:
        partitions[stream.key_field].add(stream.partitions)
    assert all(len(counts) == 1 for counts in partitions.values()), dict(partitions)
    assert partitions["user_id"] == {6}


def test_a_fatal_error_exits_non_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fails(*_: Any, **__: Any) -> None:
        raise FatalSinkError("a sink failed every record")

    monkeypatch.setattr(runtime, "run_consumer", fails)
    with pytest.raises(SystemExit) as exited:
        runtime.consumer_main(
            lambda: ConsumerServiceSettings(service_name="fatal-test", metrics_port=0),
            lambda _s: [],
        )
    assert exited.value.code == runtime.EXIT_FATAL
