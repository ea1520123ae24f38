"""event-consumer: user.events and chat.messages -> MongoDB.

\b
python -m event_consumer [run]     consume until SIGTERM (indexes created at start)
python -m event_consumer analytics events-per-day|funnel|top-products|recent-activity [options]
                                   run a behaviour analytics pipeline, print JSON

Times are ISO 8601 (UTC when no offset is given). Settings come from EVENT_CONSUMER_* variables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from pymongo.asynchronous.database import AsyncDatabase

from event_consumer.bootstrap import bootstrap
from event_consumer.mongo import MongoConnection
from event_consumer.settings import EventConsumerSettings
from polystream_common.cli import Since, Until, consumer_app, print_json, service_app, time_window
from polystream_common.logs import configure_logging
from polystream_common.runtime import consumer_main
from polystream_readmodels import behaviour
from polystream_readmodels.behaviour import FunnelGroup

WEEK = timedelta(days=7)
# The default end is a minute ahead: events written just now, by a producer whose clock is a
# little ahead of ours, still count.
CLOCK_SLACK = timedelta(minutes=1)

Limit = Annotated[int, typer.Option(help="rows at most")]


def _run() -> None:
    consumer_main(EventConsumerSettings, bootstrap)


app = consumer_app(
    __doc__ or "",
    _run,
    run_help="consume user.events and chat.messages into MongoDB (the default)",
)
analytics = service_app("Run a behaviour analytics pipeline over [since, until), print JSON.")
app.add_typer(analytics, name="analytics")


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    return time_window(since, until or datetime.now(UTC) + CLOCK_SLACK, WEEK)


def _print_query(
    query: Callable[[AsyncDatabase[dict[str, Any]]], Awaitable[list[dict[str, Any]]]],
) -> None:
    """Run ``query`` on the settings' database and print its rows as JSON."""
    settings = EventConsumerSettings()
    configure_logging(settings.log_level, json=settings.log_json)

    async def one_off() -> list[dict[str, Any]]:
        connection = MongoConnection(
            settings.mongo, settings.mongo_timeout_ms, settings.service_name
        )
        async with connection.database() as db:
            return await query(db)

    print_json(asyncio.run(one_off()))


@analytics.command("events-per-day")
def events_per_day(since: Since = None, until: Until = None) -> None:
    """Events of each type on each UTC day (default window: the last 7 days)."""
    start, end = _window(since, until)
    _print_query(lambda db: behaviour.events_per_type_per_day(db, start, end))


@analytics.command()
def funnel(
    since: Since = None,
    until: Until = None,
    by: Annotated[FunnelGroup, typer.Option(help="one row per day or per campaign")] = "day",
) -> None:
    """The view -> click -> add_to_cart -> purchase funnel (default window: the last 7 days)."""
    start, end = _window(since, until)
    _print_query(lambda db: behaviour.conversion_funnel(db, start, end, by))


@analytics.command("top-products")
def top_products(since: Since = None, until: Until = None, limit: Limit = 10) -> None:
    """The products with the most interactions (default window: the last 7 days)."""
    start, end = _window(since, until)
    _print_query(lambda db: behaviour.top_products(db, start, end, limit))


@analytics.command("recent-activity")
def recent_activity(
    user: Annotated[str, typer.Option("--user", help="the user id")],
    since: Since = None,
    limit: Limit = 10,
) -> None:
    """A user's latest events, newest first (since --since, if given)."""
    _print_query(lambda db: behaviour.recent_activity(db, user, limit, since))


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m event_consumer``: run the consumer (default) or print a
    behaviour analytics query as JSON. Exits with the command's status."""
    app(args=argv, prog_name="python -m event_consumer")
