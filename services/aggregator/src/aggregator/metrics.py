"""The aggregator's Prometheus metrics (``polystream_aggregator_*``), served by
``polystream_common.metrics.serve_metrics``.

They count work done, so a replay after a crash counts again; the stores and topics hold each
result once (see :mod:`aggregator.pipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import Counter

from polystream_common.metrics import RECORDS_DLQ

EVENTS = Counter(
    "polystream_aggregator_events_total",
    "Valid records aggregated, by input topic.",
    ["topic"],
)
WINDOWS = Counter(
    "polystream_aggregator_windows_emitted_total",
    "Closed windows emitted as final results, by aggregate (engagement, sensor_rollup).",
    ["aggregate"],
)
ANOMALIES = Counter(
    "polystream_aggregator_anomalies_total", "Sensor readings flagged as anomalies."
)
ROWS = Counter(
    "polystream_aggregator_rows_written_total",
    "Rows upserted into PostgreSQL, by table.",
    ["table"],
)
DEAD_LETTERS = Counter(
    "polystream_aggregator_dead_letters_total",
    "Invalid input records sent to their stream's DLQ topic, by input topic and error class.",
    ["topic", "error"],
)


@dataclass
class AggregatorMetrics:
    """Children bound once per label set: the hot path only increments."""

    service: str = "aggregator"
    _events: dict[str, Counter] = field(default_factory=dict, repr=False)

    def event(self, topic: str) -> None:
        child = self._events.get(topic)
        if child is None:
            child = self._events[topic] = EVENTS.labels(topic)
        child.inc()

    def window(self, aggregate: str) -> None:
        WINDOWS.labels(aggregate).inc()

    def anomaly(self) -> None:
        ANOMALIES.inc()

    def rows(self, table: str, n: int) -> None:
        ROWS.labels(table).inc(n)

    def dead_letter(self, topic: str, error: str) -> None:
        DEAD_LETTERS.labels(topic, error).inc()
        # The shared DLQ counter too, so the stack's DLQ panel shows the aggregator's.
        RECORDS_DLQ.labels(self.service, topic, error).inc()
