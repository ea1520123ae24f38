"""The one place that picks the aggregator's concrete adapters."""

from __future__ import annotations

from dataclasses import dataclass

from quixstreams import Application

from aggregator.metrics import AggregatorMetrics
from aggregator.pipeline import Sinks, build_application
from aggregator.postgres import AggregateWriter, EngagementSink, RollupSink
from aggregator.settings import AggregatorSettings

# How long Quix pauses the partitions after PostgreSQL failed a checkpoint's write.
POSTGRES_RETRY_AFTER_S = 5.0


@dataclass(frozen=True)
class Aggregator:
    """The wired application and the sinks to close after it stops."""

    app: Application
    sinks: tuple[EngagementSink, RollupSink]

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def bootstrap(settings: AggregatorSettings, metrics: AggregatorMetrics) -> Aggregator:
    """Quix Streams application -> PostgreSQL sinks (each with its own connection)."""
    engagement = EngagementSink(
        AggregateWriter(settings.postgres, settings.postgres_schema),
        metrics,
        POSTGRES_RETRY_AFTER_S,
    )
    rollups = RollupSink(
        AggregateWriter(settings.postgres, settings.postgres_schema),
        metrics,
        POSTGRES_RETRY_AFTER_S,
    )
    app = build_application(settings, Sinks(engagement, rollups), metrics)
    return Aggregator(app, (engagement, rollups))
