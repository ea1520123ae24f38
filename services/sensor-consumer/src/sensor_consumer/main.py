"""sensor-consumer: sensor.readings -> PostgreSQL.

python -m sensor_consumer [run]         consume until SIGTERM (migrations applied at start)
python -m sensor_consumer migrate       apply the schema migrations and exit
python -m sensor_consumer analytics stats|moving-average|anomalies [options]   JSON out
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg

from polystream_common.logs import configure_logging
from polystream_common.runtime import consumer_main
from sensor_consumer import analytics
from sensor_consumer.bootstrap import bootstrap
from sensor_consumer.migrations import migrate
from sensor_consumer.settings import SensorConsumerSettings


def _timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sensor_consumer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="consume sensor.readings into PostgreSQL (default)")
    commands.add_parser("migrate", help="apply the schema migrations")
    query = commands.add_parser("analytics", help="run an analytics query, print JSON")
    query.add_argument("query", choices=["stats", "moving-average", "anomalies"])
    now = datetime.now(UTC)
    query.add_argument("--since", type=_timestamp, default=now - timedelta(days=1))
    query.add_argument("--until", type=_timestamp, default=now + timedelta(minutes=1))
    query.add_argument("--sensor")
    query.add_argument("--window", type=int, default=50)
    query.add_argument("--threshold", type=float, default=3.0)
    return parser


async def _one_off(args: argparse.Namespace, settings: SensorConsumerSettings) -> object:
    conn = await asyncpg.connect(settings.postgres.dsn())
    try:
        if args.command == "migrate":
            return {"applied": await migrate(conn)}
        if args.query == "stats":
            return await analytics.sensor_stats(conn, args.since, args.until, args.sensor)
        if args.query == "moving-average":
            if not args.sensor:
                raise SystemExit("error: moving-average needs --sensor")
            return await analytics.moving_average(
                conn, args.sensor, args.since, args.until, args.window
            )
        return await analytics.anomalies(
            conn,
            args.since,
            args.until,
            sensor_id=args.sensor,
            window=args.window,
            threshold=args.threshold,
        )
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m sensor_consumer``."""
    args = _parser().parse_args(argv)
    if args.command in (None, "run"):
        consumer_main(SensorConsumerSettings, bootstrap)
        return
    settings = SensorConsumerSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    print(json.dumps(asyncio.run(_one_off(args, settings)), default=str, indent=2))
