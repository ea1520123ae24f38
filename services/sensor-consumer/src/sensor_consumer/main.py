"""sensor-consumer: sensor.readings -> PostgreSQL.

\b
  python -m sensor_consumer [run]      consume until SIGTERM (migrations applied at start)
  python -m sensor_consumer migrate    apply the schema migrations and exit
  python -m sensor_consumer analytics stats|moving-average|anomalies [options]   (JSON out)

Times are ISO 8601 (UTC when no offset is given). Settings come from SENSOR_CONSUMER_* variables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, TypeVar

import asyncpg
import typer

from polystream_common.cli import Since, Until, consumer_app, print_json, service_app, time_window
from polystream_common.logs import configure_logging
from polystream_common.runtime import consumer_main
from polystream_readmodels import sensors
from polystream_readmodels.postgres import connect
from polystream_readmodels.sensors import SENSOR_MIGRATIONS
from sensor_consumer.bootstrap import bootstrap
from sensor_consumer.settings import SensorConsumerSettings

T = TypeVar("T")
DAY = timedelta(days=1)

Sensor = Annotated[str | None, typer.Option("--sensor", help="one sensor id")]


def _run() -> None:
    consumer_main(SensorConsumerSettings, bootstrap)


app = consumer_app(
    __doc__ or "", _run, run_help="consume sensor.readings into PostgreSQL (the default)"
)
analytics = service_app("Run an analytics query over [since, until), print JSON.")
app.add_typer(analytics, name="analytics")


def _with_connection(
    query: Callable[[asyncpg.Connection, SensorConsumerSettings], Awaitable[T]],
) -> T:
    """Run ``query`` on one connection to the settings' schema."""
    settings = SensorConsumerSettings()
    configure_logging(settings.log_level, json=settings.log_json)

    async def one_off() -> T:
        conn = await connect(settings.postgres, settings.postgres_schema)
        try:
            return await query(conn, settings)
        finally:
            await conn.close()

    return asyncio.run(one_off())


@app.command()
def migrate() -> None:
    """Apply the schema migrations and exit."""
    applied = _with_connection(lambda conn, s: SENSOR_MIGRATIONS.apply(conn, s.postgres_schema))
    print_json({"applied": applied})


@analytics.command()
def stats(since: Since = None, until: Until = None, sensor: Sensor = None) -> None:
    """Count, min, max, mean, stddev and p95 per sensor (default window: the last day)."""
    start, end = time_window(since, until, DAY)
    print_json(_with_connection(lambda conn, _: sensors.sensor_stats(conn, start, end, sensor)))


@analytics.command("moving-average")
def moving_average(
    sensor: Annotated[str, typer.Option("--sensor", help="the sensor id")],
    since: Since = None,
    until: Until = None,
    window: Annotated[int, typer.Option(help="readings per window")] = 10,
    interval: Annotated[
        float | None, typer.Option(help="a time window instead, in seconds")
    ] = None,
) -> None:
    """Each reading of one sensor with the mean of its window (default: the last day)."""
    start, end = time_window(since, until, DAY)
    span = None if interval is None else timedelta(seconds=interval)
    print_json(
        _with_connection(
            lambda conn, _: sensors.moving_average(
                conn, sensor, start, end, window=window, interval=span
            )
        )
    )


@analytics.command()
def anomalies(
    since: Since = None,
    until: Until = None,
    sensor: Sensor = None,
    window: Annotated[int, typer.Option(help="readings per window")] = 50,
    threshold: Annotated[float, typer.Option(help="|z| at least")] = 3.0,
    min_samples: Annotated[
        int | None, typer.Option(help="readings needed before one is scored (default: window)")
    ] = None,
) -> None:
    """Readings far from their sensor's preceding ones (default window: the last day)."""
    start, end = time_window(since, until, DAY)
    print_json(
        _with_connection(
            lambda conn, _: sensors.anomalies(
                conn,
                start,
                end,
                sensor_id=sensor,
                window=window,
                threshold=threshold,
                min_samples=min_samples,
            )
        )
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m sensor_consumer``: run the consumer (default), migrate, or
    print an analytics query as JSON. Exits with the command's status."""
    app(args=argv, prog_name="python -m sensor_consumer")
