"""sensor-consumer: sensor.readings -> PostgreSQL.

  python -m sensor_consumer [run]      consume until SIGTERM (migrations applied at start)
  python -m sensor_consumer migrate    apply the schema migrations and exit
  python -m sensor_consumer analytics stats|moving-average|anomalies [options]   (JSON out)

Times are ISO 8601 (UTC when no offset is given). Settings come from SENSOR_CONSUMER_* variables.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from polystream_common.logs import configure_logging
from polystream_common.runtime import consumer_main
from sensor_consumer import analytics
from sensor_consumer.bootstrap import bootstrap
from sensor_consumer.migrations import migrate
from sensor_consumer.postgres import connect
from sensor_consumer.settings import SensorConsumerSettings


def _timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _seconds(text: str) -> timedelta:
    return timedelta(seconds=float(text))


def _json_value(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sensor_consumer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="consume sensor.readings into PostgreSQL (the default)")
    commands.add_parser("migrate", help="apply the schema migrations and exit")
    query = commands.add_parser("analytics", help="run an analytics query, print JSON")
    query.add_argument("query", choices=["stats", "moving-average", "anomalies"])
    query.add_argument("--since", type=_timestamp, help="start (inclusive); default: a day ago")
    query.add_argument("--until", type=_timestamp, help="end (exclusive); default: now")
    query.add_argument("--sensor", help="one sensor id (needed by moving-average)")
    query.add_argument("--window", type=int, default=None, help="readings per window")
    query.add_argument(
        "--interval", type=_seconds, help="moving-average: a time window, in seconds"
    )
    query.add_argument("--threshold", type=float, default=3.0, help="anomalies: |z| at least")
    query.add_argument(
        "--min-samples", type=int, help="anomalies: readings needed before one is scored"
    )
    return parser


async def _one_off(args: argparse.Namespace, settings: SensorConsumerSettings) -> object:
    conn = await connect(settings.postgres, settings.postgres_schema)
    try:
        if args.command == "migrate":
            return {"applied": await migrate(conn, settings.postgres_schema)}
        until = args.until or datetime.now(UTC)
        since = args.since or until - timedelta(days=1)
        result: Sequence[analytics.SensorStats | analytics.MovingAverage | analytics.Anomaly]
        if args.query == "stats":
            result = await analytics.sensor_stats(conn, since, until, args.sensor)
        elif args.query == "moving-average":
            result = await analytics.moving_average(
                conn,
                args.sensor,
                since,
                until,
                window=args.window or 10,
                interval=args.interval,
            )
        else:
            result = await analytics.anomalies(
                conn,
                since,
                until,
                sensor_id=args.sensor,
                window=args.window or 50,
                threshold=args.threshold,
                min_samples=args.min_samples,
            )
        return [dataclasses.asdict(row) for row in result]
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m sensor_consumer``: run the consumer (default), migrate, or
    print an analytics query as JSON."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "analytics" and args.query == "moving-average" and not args.sensor:
        parser.error("moving-average needs --sensor")
    if args.command in (None, "run"):
        consumer_main(SensorConsumerSettings, bootstrap)
        return
    settings = SensorConsumerSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    print(json.dumps(asyncio.run(_one_off(args, settings)), default=_json_value, indent=2))
