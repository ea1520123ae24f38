"""Freshness as Prometheus gauges, served by ``python -m orchestrator serve-metrics`` (names
after polystream_common.metrics: ``polystream_<what>_<unit>``).

The alert rules compare each timestamp with the threshold exported beside it, so changing a
threshold in the settings changes the alert without editing the rules:

    time() - polystream_lake_newest_event_timestamp_seconds
      > on(stream) polystream_lake_freshness_threshold_seconds

A source or mart never seen reads 0, so its age is huge and the alert fires.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter, Gauge

from orchestrator.freshness import mart_build_times, newest_event_times
from orchestrator.settings import OrchestratorSettings
from polystream_lake.layout import open_lake

log = logging.getLogger(__name__)

LAKE_NEWEST_EVENT = Gauge(
    "polystream_lake_newest_event_timestamp_seconds",
    "Event time of the newest event in the lake, per stream (0: none yet).",
    ["stream"],
)
LAKE_THRESHOLD = Gauge(
    "polystream_lake_freshness_threshold_seconds",
    "A stream whose newest event is older than this is stale (the orchestrator's setting).",
    ["stream"],
)
MART_BUILT = Gauge(
    "polystream_warehouse_mart_built_timestamp_seconds",
    "Time of the mart's last successful build (0: never).",
    ["mart"],
)
MART_THRESHOLD = Gauge(
    "polystream_warehouse_mart_freshness_threshold_seconds",
    "A mart whose last build is older than this is stale (the orchestrator's setting).",
    ["mart"],
)
READS = Gauge(
    "polystream_orchestrator_freshness_read_timestamp_seconds",
    "When the exporter last read the source successfully (lake, warehouse).",
    ["source"],
)
READ_ERRORS = Counter(
    "polystream_orchestrator_freshness_read_errors_total",
    "Reads of the lake or the warehouse that failed (the previous values stay exported).",
    ["source", "error"],
)


def _seconds(value: datetime | None) -> float:
    return 0.0 if value is None else value.timestamp()


@dataclass
class FreshnessExporter:
    """Reads the lake's newest events and the marts' build times into the gauges."""

    settings: OrchestratorSettings
    read_lake: Callable[[], Mapping[str, datetime | None]]
    read_marts: Callable[[], Mapping[str, datetime]]

    @classmethod
    def real(cls, settings: OrchestratorSettings) -> FreshnessExporter:
        settings = settings.resolved()
        lake = open_lake(settings.lake)
        return cls(
            settings,
            lambda: newest_event_times(lake, settings.streams),
            lambda: mart_build_times(settings.warehouse_path),
        )

    def refresh(self) -> None:
        """One read of both sources; a failing read leaves its previous values in place."""
        freshness = self.settings.freshness
        try:
            for stream, newest in self.read_lake().items():
                LAKE_NEWEST_EVENT.labels(stream).set(_seconds(newest))
                LAKE_THRESHOLD.labels(stream).set(freshness.lake_threshold(stream))
            READS.labels("lake").set(time.time())
        except Exception as exc:  # the lake mid-compaction, a filesystem hiccup: next time
            READ_ERRORS.labels("lake", type(exc).__name__).inc()
            log.warning("reading the lake failed", extra={"error": repr(exc)})
        try:
            built = self.read_marts()
            for mart in sorted(set(self.settings.marts) | set(built)):
                MART_BUILT.labels(mart).set(_seconds(built.get(mart)))
                MART_THRESHOLD.labels(mart).set(freshness.mart_max_age_s)
            READS.labels("warehouse").set(time.time())
        except Exception as exc:  # the file locked by the build's writer: next time
            READ_ERRORS.labels("warehouse", type(exc).__name__).inc()
            log.warning("reading the warehouse failed", extra={"error": repr(exc)})

    def run(self, stop: threading.Event) -> None:
        """Refresh every ``metrics_refresh_s`` until ``stop`` is set."""
        while not stop.is_set():
            self.refresh()
            stop.wait(self.settings.metrics_refresh_s)
