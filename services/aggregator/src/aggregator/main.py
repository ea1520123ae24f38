"""aggregator: engagement scores (products, campaigns) and sensor rollups and anomalies, on Quix
Streams, exact after a crash.

\b
  python -m aggregator [run]     aggregate until SIGTERM (topics and migrations ensured at start)
  python -m aggregator migrate   apply the PostgreSQL migrations and exit

Settings come from AGGREGATOR_* variables (e.g. AGGREGATOR_ENGAGEMENT__WINDOW_S=300).
"""

from __future__ import annotations

import asyncio
import logging

from aggregator.bootstrap import bootstrap
from aggregator.metrics import AggregatorMetrics
from aggregator.postgres import AggregateWriter
from aggregator.settings import AggregatorSettings
from polystream_common.cli import consumer_app, print_json
from polystream_common.kafka import build_admin
from polystream_common.logs import configure_logging
from polystream_common.metrics import serve_metrics
from polystream_common.topics import SENSOR_READINGS, USER_EVENTS, ensure_topics

log = logging.getLogger(__name__)


def _settings() -> AggregatorSettings:
    settings = AggregatorSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


async def _migrate(settings: AggregatorSettings) -> list[str]:
    writer = AggregateWriter(settings.postgres, settings.postgres_schema)
    try:
        return await writer.migrate()
    finally:
        await writer.close()


def run(settings: AggregatorSettings) -> None:
    """Ensure the input topics and the tables, then run the application until SIGTERM/SIGINT
    (Quix Streams' handlers stop it after the message in flight; the last checkpoint commits)."""
    settings.log_effective()
    prefix = settings.kafka.topic_prefix
    ensure_topics(
        build_admin(settings.kafka),
        [USER_EVENTS.namespaced(prefix), SENSOR_READINGS.namespaced(prefix)],
    )
    asyncio.run(_migrate(settings))
    metrics = AggregatorMetrics(settings.service_name)
    serve_metrics(settings.metrics_host, settings.metrics_port)
    aggregator = bootstrap(settings, metrics)
    try:
        aggregator.app.run()
    finally:
        aggregator.close()
    log.info("aggregator stopped")


app = consumer_app(
    __doc__ or "",
    lambda: run(_settings()),
    run_help="aggregate user.events and sensor.readings (the default)",
)


@app.command()
def migrate() -> None:
    """Apply the PostgreSQL migrations and exit."""
    print_json({"applied": asyncio.run(_migrate(_settings()))})


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m aggregator``: run the aggregator (default) or migrate. Exits
    with the command's status."""
    app(args=argv, prog_name="python -m aggregator")
