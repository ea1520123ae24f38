"""Prometheus metrics, one module, one naming scheme: ``polystream_<what>_<unit>``.

Label sets are fixed here; the hot path uses children bound once per (service, topic, sink) by
:class:`ConsumerMetrics` and :class:`ProducerMetrics`, so it never looks labels up per record.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)

RECORDS_CONSUMED = Counter(
    "polystream_records_consumed_total", "Records polled from Kafka.", ["service", "topic"]
)
RECORDS_WRITTEN = Counter(
    "polystream_records_written_total",
    "Records the sink has durably written (idempotent; redeliveries count again).",
    ["service", "topic", "sink"],
)
RECORDS_FAILED = Counter(
    "polystream_records_failed_total",
    "Records in a sink write attempt that failed and will be retried.",
    ["service", "topic", "sink"],
)
RECORDS_DLQ = Counter(
    "polystream_records_dlq_total",
    "Records sent to the dead-letter topic, by error class.",
    ["service", "topic", "error"],
)
SINK_WRITE_SECONDS = Histogram(
    "polystream_sink_write_seconds",
    "Duration of one successful sink write of one batch.",
    ["service", "sink"],
    buckets=LATENCY_BUCKETS,
)
SINK_RETRIES = Counter(
    "polystream_sink_retries_total",
    "Sink write attempts that failed and were retried with backoff, by error class.",
    ["service", "sink", "error"],
)
SINK_UP = Gauge(
    "polystream_sink_up",
    "1 while the sink's last write succeeded, 0 while retrying.",
    ["service", "sink"],
)
END_TO_END_SECONDS = Histogram(
    "polystream_end_to_end_latency_seconds",
    "From a record's event_time to the commit of its offset after the sink wrote it.",
    ["service", "topic", "sink"],
    buckets=LATENCY_BUCKETS,
)
BATCH_SIZE = Histogram(
    "polystream_batch_size_records",
    "Records per polled batch.",
    ["service"],
    buckets=BATCH_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "polystream_consumer_lag_records",
    "High watermark minus the checkpointed offset, per partition (librdkafka statistics).",
    ["service", "topic", "partition"],
)
CONSUMER_PAUSED = Gauge(
    "polystream_consumer_paused",
    "1 while the loop has paused its partitions because the sink is slow or down.",
    ["service"],
)
RECORDS_DELETED = Counter(
    "polystream_records_deleted_total",
    "Tombstones the sink has applied (deletes of a table stream's entities).",
    ["service", "topic", "sink"],
)
SINK_BISECTIONS = Counter(
    "polystream_sink_bisections_total",
    "Batches split in two to isolate the records behind a non-transient sink error.",
    ["service", "sink"],
)
FATAL_STOPS = Counter(
    "polystream_fatal_stops_total",
    "Times the service stopped itself on an error that is not the records' (a bug, a fenced"
    " producer): a supervisor restarts it.",
    ["service", "reason"],
)
COMMITS_FAILED = Counter(
    "polystream_commit_failures_total", "Offset commits that failed.", ["service"]
)
PRODUCED = Counter(
    "polystream_produced_total", "Records acknowledged by the broker.", ["service", "topic"]
)
PRODUCE_ERRORS = Counter(
    "polystream_produce_errors_total",
    "Records whose delivery failed, by librdkafka error name.",
    ["service", "topic", "error"],
)
DELIVERY_SECONDS = Histogram(
    "polystream_delivery_latency_seconds",
    "From produce() to the broker's acknowledgement.",
    ["service", "topic"],
    buckets=LATENCY_BUCKETS,
)


@dataclass(frozen=True)
class SinkMetrics:
    """Children bound to one (service, topic, sink)."""

    consumed: Counter
    written: Counter
    deleted: Counter
    failed: Counter
    end_to_end: Histogram


@dataclass
class ConsumerMetrics:
    """The metrics one consumer loop updates, with labels bound once."""

    service: str

    def for_route(self, topic: str, sink: str) -> SinkMetrics:
        return SinkMetrics(
            consumed=RECORDS_CONSUMED.labels(self.service, topic),
            written=RECORDS_WRITTEN.labels(self.service, topic, sink),
            deleted=RECORDS_DELETED.labels(self.service, topic, sink),
            failed=RECORDS_FAILED.labels(self.service, topic, sink),
            end_to_end=END_TO_END_SECONDS.labels(self.service, topic, sink),
        )

    def dlq(self, topic: str, error: str) -> None:
        RECORDS_DLQ.labels(self.service, topic, error).inc()

    def write_seconds(self, sink: str) -> Histogram:
        return SINK_WRITE_SECONDS.labels(self.service, sink)

    def retry(self, sink: str, error: str) -> None:
        SINK_RETRIES.labels(self.service, sink, error).inc()

    def failing(self, target: str, error: BaseException | None) -> None:
        """An attempt on ``target`` (a sink, a server at start-up) failed and will be retried."""
        self.retry(target, type(error).__name__)
        self.sink_up(target, False)

    def sink_up(self, sink: str, up: bool) -> None:
        SINK_UP.labels(self.service, sink).set(1 if up else 0)

    def batch(self, size: int) -> None:
        BATCH_SIZE.labels(self.service).observe(size)

    def paused(self, paused: bool) -> None:
        CONSUMER_PAUSED.labels(self.service).set(1 if paused else 0)

    def lag(self, topic: str, partition: int, lag: int) -> None:
        CONSUMER_LAG.labels(self.service, topic, str(partition)).set(lag)

    def bisection(self, sink: str) -> None:
        SINK_BISECTIONS.labels(self.service, sink).inc()

    def fatal_stop(self, reason: str) -> None:
        FATAL_STOPS.labels(self.service, reason).inc()

    def commit_failed(self) -> None:
        COMMITS_FAILED.labels(self.service).inc()

    def on_stats(self, stats_json: str) -> None:
        """librdkafka ``stats_cb``: publishes the consumer lag of each assigned partition.

        The lag is the high watermark minus the offset the loop last checkpointed, which it
        stores on the consumer (``consumer_lag_stored``); before the first checkpoint of a
        partition, librdkafka's lag behind the group's committed offset (``consumer_lag``).
        """
        stats = json.loads(stats_json)
        for topic, topic_stats in stats.get("topics", {}).items():
            for partition, p in topic_stats.get("partitions", {}).items():
                lag = p.get("consumer_lag_stored", -1)
                if lag < 0:
                    lag = p.get("consumer_lag", -1)
                if partition != "-1" and lag >= 0:
                    self.lag(topic, int(partition), lag)


SENTENCES_ENCODED = Counter(
    "polystream_sentences_encoded_total",
    "Texts turned into vectors by the embedding model.",
    ["service"],
)
ENCODE_SECONDS = Histogram(
    "polystream_encode_seconds",
    "Duration of encoding one batch of texts (in a worker thread).",
    ["service"],
    buckets=LATENCY_BUCKETS,
)
ENCODER_INFO = Gauge(
    "polystream_encoder_info",
    "1 for the encoder backend and device the service chose (onnx/cpu, torch/cuda).",
    ["service", "backend", "device"],
)
PROFILE_SKIPS = Counter(
    "polystream_profile_interactions_skipped_total",
    "Interactions that moved no user profile, by reason (a product with no vector yet).",
    ["service", "reason"],
)


@dataclass
class EncoderMetrics:
    """The metrics of a service that encodes text (the embedder)."""

    service: str

    def backend(self, backend: str, device: str) -> None:
        ENCODER_INFO.labels(self.service, backend, device).set(1)

    def timer(self) -> Any:
        """A context manager timing one batch's encoding."""
        return ENCODE_SECONDS.labels(self.service).time()

    def encoded(self, n: int) -> None:
        SENTENCES_ENCODED.labels(self.service).inc(n)

    def skipped(self, reason: str, n: int = 1) -> None:
        PROFILE_SKIPS.labels(self.service, reason).inc(n)


@dataclass
class ProducerMetrics:
    """The metrics of a producer's delivery reports. ``delivered`` runs once per record, so its
    children are bound once per topic: ``labels()`` costs more than the increment."""

    service: str
    _bound: dict[str, tuple[Counter, Histogram]] = field(default_factory=dict, repr=False)

    def delivered(self, topic: str, latency_s: float) -> None:
        bound = self._bound.get(topic)
        if bound is None:
            bound = self._bound[topic] = (
                PRODUCED.labels(self.service, topic),
                DELIVERY_SECONDS.labels(self.service, topic),
            )
        bound[0].inc()
        bound[1].observe(latency_s)

    def failed(self, topic: str, error: str) -> None:
        PRODUCE_ERRORS.labels(self.service, topic, error).inc()


def observe_many(histogram: Histogram, values: Iterable[float]) -> None:
    """``histogram.observe(v)`` for each of ``values``, at the cost of one increment per bucket
    touched instead of two locked increments per value: the end-to-end latency of every record
    is observed, exactly, at batch rates. ``histogram`` is a child (labels bound)."""
    values = list(values)
    if not values:
        return
    bounds = histogram._upper_bounds
    tally = Tally(bisect_left(bounds, v) for v in values)
    # The child keeps per-bucket (not cumulative) counts: observe() increments the first bucket
    # whose bound is >= the value, as bisect_left finds it.
    buckets = histogram._buckets
    for index, n in tally.items():
        buckets[index].inc(n)
    histogram._sum.inc(sum(values))


def serve_metrics(host: str, port: int) -> None:
    """Serve /metrics from a daemon thread (port 0 disables it, for tests)."""
    if port:
        start_http_server(port, addr=host)
