"""event-consumer: user.events and chat.messages -> MongoDB.

python -m event_consumer [run]     consume until SIGTERM (indexes created at start)
python -m event_consumer analytics events-per-day|funnel|top-products|recent-activity [options]
                                   run a behaviour analytics pipeline, print JSON
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from event_consumer import analytics
from event_consumer.bootstrap import bootstrap
from event_consumer.mongo import MongoConnection
from event_consumer.settings import EventConsumerSettings
from polystream_common.logs import configure_logging
from polystream_common.runtime import consumer_main


def _timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m event_consumer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="consume user.events and chat.messages into MongoDB (default)")
    query = commands.add_parser("analytics", help="run a behaviour analytics pipeline, print JSON")
    query.add_argument(
        "query", choices=["events-per-day", "funnel", "top-products", "recent-activity"]
    )
    now = datetime.now(UTC)
    query.add_argument("--since", type=_timestamp, help="window start (default: 7 days ago)")
    query.add_argument("--until", type=_timestamp, default=now + timedelta(minutes=1))
    query.add_argument("--by", choices=["day", "campaign"], default="day", help="funnel rows")
    query.add_argument("--limit", type=int, default=10)
    query.add_argument("--user", help="the user of recent-activity")
    return parser


async def _analytics(args: argparse.Namespace, settings: EventConsumerSettings) -> Any:
    if args.query == "recent-activity" and not args.user:
        raise SystemExit("error: recent-activity needs --user")
    since = args.since or args.until - timedelta(days=7)
    connection = MongoConnection(settings.mongo, settings.mongo_timeout_ms, settings.service_name)
    async with connection.database() as db:
        if args.query == "events-per-day":
            return await analytics.events_per_type_per_day(db, since, args.until)
        if args.query == "funnel":
            return await analytics.conversion_funnel(db, since, args.until, args.by)
        if args.query == "top-products":
            return await analytics.top_products(db, since, args.until, args.limit)
        return await analytics.recent_activity(db, args.user, args.limit, args.since)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m event_consumer``."""
    args = _parser().parse_args(argv)
    if args.command in (None, "run"):
        consumer_main(EventConsumerSettings, bootstrap)
        return
    settings = EventConsumerSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    print(json.dumps(asyncio.run(_analytics(args, settings)), default=str, indent=2))
