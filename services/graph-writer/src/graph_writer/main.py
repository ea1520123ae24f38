"""graph-writer: user.events and products.catalog -> the interaction graph in Neo4j.

\b
(:User)-[:INTERACTED {type, count, first_at, last_at}]->(:Product {id, category} | :Campaign {id})
(:Campaign)-[:PROMOTES {count, first_at, last_at}]->(:Product)

Exactly once under at-least-once delivery: each batch is one Neo4j transaction that also raises
per-partition offset watermarks ((:Watermark {id: "topic/partition", offset}) nodes), and records
at or below them are skipped. Each user event adds to one relationship per (user, target, event
type); a product event in a session whose latest click on its campaign was in that same session
adds to (:Campaign)-[:PROMOTES]->(:Product) (the catalog names no campaign). A catalog tombstone
DETACH DELETEs the product. After each committed batch, the users whose interactions changed are
published to the Kafka topic cache.invalidations (keyed by user, at least once) for recsys-api.

\b
python -m graph_writer [run]                          consume until SIGTERM (constraints at start)
python -m graph_writer campaigns-of-similar-users USER [--similar U1,U2] [--exclude-seen]
python -m graph_writer similar-users USER             users who interacted with the same targets
python -m graph_writer interactions USER...           the products and campaigns they touched

The queries print JSON. Settings come from GRAPH_WRITER_* variables (Neo4j, label prefix).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from neo4j import AsyncDriver, AsyncGraphDatabase

from graph_writer.bootstrap import bootstrap
from graph_writer.settings import GraphWriterSettings
from polystream_common.cli import consumer_app, print_json
from polystream_common.logs import configure_logging
from polystream_common.runtime import consumer_main
from polystream_readmodels import graph

T = TypeVar("T")
Limit = Annotated[int, typer.Option(min=1, max=1000, help="results at most")]


def _run() -> None:
    consumer_main(GraphWriterSettings, bootstrap)


app = consumer_app(
    __doc__ or "",
    _run,
    run_help="write user events and the catalog into the Neo4j graph (the default)",
)


def _query(query: Callable[[AsyncDriver, str], Awaitable[T]]) -> None:
    """Run ``query`` with a driver of the settings' server and label prefix; print JSON."""
    settings = GraphWriterSettings()
    configure_logging(settings.log_level, json=settings.log_json)

    async def one_off() -> T:
        neo4j = settings.neo4j
        auth = (neo4j.user, neo4j.password.get_secret_value())
        async with AsyncGraphDatabase.driver(neo4j.uri, auth=auth) as driver:
            return await query(driver, settings.label_prefix)

    print_json(asyncio.run(one_off()))


@app.command("campaigns-of-similar-users")
def campaigns_of_similar_users(
    user_id: Annotated[str, typer.Argument(help="the user's id")],
    similar: Annotated[
        str | None,
        typer.Option(help="comma-separated similar users (default: by co-interaction)"),
    ] = None,
    limit: Limit = 10,
    exclude_seen: Annotated[
        bool, typer.Option(help="leave out campaigns the user interacted with")
    ] = False,
) -> None:
    """The campaigns that users similar to USER_ID interacted with, best first."""
    similar_ids = [u for u in similar.split(",") if u] if similar else None
    _query(
        lambda driver, prefix: graph.campaigns_of_similar_users(
            driver,
            user_id,
            similar_ids,
            label_prefix=prefix,
            limit=limit,
            exclude_seen=exclude_seen,
        )
    )


@app.command("similar-users")
def similar_users(
    user_id: Annotated[str, typer.Argument(help="the user's id")], limit: Limit = 10
) -> None:
    """The users who interacted with the most of USER_ID's products and campaigns."""
    _query(
        lambda driver, prefix: graph.similar_users(
            driver, user_id, label_prefix=prefix, limit=limit
        )
    )


@app.command()
def interactions(
    user_ids: Annotated[list[str], typer.Argument(help="the users' ids")], limit: Limit = 20
) -> None:
    """The products and campaigns USER_IDS interacted with, with counts, best first."""
    _query(
        lambda driver, prefix: graph.interactions_of_users(
            driver, user_ids, label_prefix=prefix, limit=limit
        )
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m graph_writer``: run the consumer (default) or a graph query."""
    app(args=argv, prog_name="python -m graph_writer")
