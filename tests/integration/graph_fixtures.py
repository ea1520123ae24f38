"""What the graph integration tests share: graph-writer's sinks on the local stack's Neo4j
under a label prefix of each test's own, dropped after (``open_graph``, behind each module's
fixture), user events to feed them, and what they wrote read back."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from neo4j import AsyncDriver, AsyncGraphDatabase
from pydantic import SecretStr

from graph_writer.bootstrap import bootstrap
from graph_writer.catalog import ProductGraphSink
from graph_writer.interactions import InteractionGraphSink
from graph_writer.invalidations import RecordingPublisher
from graph_writer.settings import GraphWriterSettings
from polystream_common.schemas import AnyUserEvent, Product, UserEventV1
from polystream_common.settings import Neo4jSettings
from polystream_common.sink import SinkRecord
from polystream_common.topics import PRODUCTS, USER_EVENTS
from polystream_readmodels.graph import GraphLabels

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def neo4j_settings(stack: dict[str, str], port: str | None = None) -> Neo4jSettings:
    return Neo4jSettings(
        uri=f"bolt://127.0.0.1:{port or stack['NEO4J_BOLT_PORT']}",
        user=stack["NEO4J_USER"],
        password=SecretStr(stack["NEO4J_PASSWORD"]),
    )


async def drop_graph(driver: AsyncDriver, labels: GraphLabels) -> None:
    """Delete the prefix's nodes (with their relationships) and constraints."""
    for label in labels.all():
        await driver.execute_query(f"MATCH (n:`{label}`) DETACH DELETE n")
    for name in labels.constraint_names():
        await driver.execute_query(f"DROP CONSTRAINT `{name}` IF EXISTS")


@dataclass
class Graph:
    """graph-writer's two sinks, set up, over one namespace; ``driver`` reads what they wrote."""

    labels: GraphLabels
    interactions: InteractionGraphSink
    products: ProductGraphSink
    publisher: RecordingPublisher
    driver: AsyncDriver

    async def rows(self, query: str, **params: Any) -> list[dict[str, Any]]:
        records, _, _ = await self.driver.execute_query(query, params)
        return [r.data() for r in records]

    async def interactions_by_key(self) -> dict[tuple[str, str, str], int]:
        """(user, target, type) -> count of every INTERACTED relationship."""
        rows = await self.rows(
            f"MATCH (u:`{self.labels.user}`)-[r:INTERACTED]->(t) "
            "RETURN u.id AS user, t.id AS target, r.type AS type, r.count AS count"
        )
        return {(r["user"], r["target"], r["type"]): r["count"] for r in rows}

    async def promotes(self) -> dict[tuple[str, str], int]:
        rows = await self.rows(
            f"MATCH (c:`{self.labels.campaign}`)-[r:PROMOTES]->(p:`{self.labels.product}`) "
            "RETURN c.id AS campaign, p.id AS product, r.count AS count"
        )
        return {(r["campaign"], r["product"]): r["count"] for r in rows}

    async def count(self, label: str) -> int:
        return int((await self.rows(f"MATCH (n:`{label}`) RETURN count(n) AS n"))[0]["n"])


@asynccontextmanager
async def open_graph(stack: dict[str, str]) -> AsyncIterator[Graph]:
    """graph-writer's sinks, set up under a fresh label prefix; the prefix's graph is dropped
    on the way out."""
    prefix = f"it_{uuid.uuid4().hex[:10]}_"
    settings = GraphWriterSettings(neo4j=neo4j_settings(stack), label_prefix=prefix, metrics_port=0)
    publisher = RecordingPublisher()
    routes = bootstrap(settings, publisher=publisher)
    interactions, products = routes[0].sink, routes[1].sink
    assert isinstance(interactions, InteractionGraphSink)
    assert isinstance(products, ProductGraphSink)
    await interactions.setup()
    await products.setup()
    n4j = settings.neo4j
    driver = AsyncGraphDatabase.driver(n4j.uri, auth=(n4j.user, n4j.password.get_secret_value()))
    labels = GraphLabels(prefix)
    try:
        yield Graph(labels, interactions, products, publisher, driver)
    finally:
        await interactions.close()
        await products.close()
        await drop_graph(driver, labels)
        await driver.close()


def event(
    offset: int,
    user: str,
    kind: str,
    product: str | None = None,
    campaign: str | None = None,
    session: str = "s1",
    partition: int = 0,
) -> SinkRecord[AnyUserEvent]:
    value = UserEventV1.model_validate(
        {
            "event_id": uuid.UUID(int=partition * 100_000 + offset + 1),
            "event_time": T0 + timedelta(seconds=offset),
            "user_id": user,
            "session_id": session,
            "event_type": kind,
            "product_id": product,
            "campaign_id": campaign,
        }
    )
    return SinkRecord(value, USER_EVENTS.topic, partition, offset, value.key())


def product(offset: int, product_id: str, category: str) -> SinkRecord[Product]:
    value = Product(
        event_id=uuid.uuid4(),
        event_time=T0,
        product_id=product_id,
        name=f"{category} {product_id}",
        description="",
        category=category,
        price=10.0,
    )
    return SinkRecord(value, PRODUCTS.topic, 0, offset, value.key())


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
