"""ProductGraphSink: the catalog (``products.catalog``, a compacted table) as ``(:Product {id,
category, name})`` nodes; a tombstone ``DETACH DELETE``s the product with its relationships.

Idempotent without watermarks: a product's record sets its properties (the latest record wins;
a redelivery replays from the checkpoint in order, so it ends on the latest again), and deleting
a product that is gone does nothing. A user event may name a product before the catalog does: it
``MERGE``s the node by id, and the catalog record sets its category when it comes.

A deletion changes the interactions of every user who had one with the product: they are
invalidated after the transaction commits (reason ``product_deleted``). If that publish fails,
the retried delete finds nothing left and invalidates no one: at most once for deletions (rare,
and a cache entry of a deleted product also ages out).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from neo4j import AsyncManagedTransaction

from graph_writer.graph import GraphConnection, is_transient_graph_error
from graph_writer.invalidations import InvalidationPublisher, invalidation
from polystream_common.schemas import Product
from polystream_common.sink import DeletingSink, Deletion, Rejection, SinkRecord
from polystream_readmodels.graph import INTERACTED

log = logging.getLogger(__name__)


def product_rows(batch: Sequence[SinkRecord[Product]]) -> list[dict[str, str]]:
    """One row per product, its last record in the batch winning."""
    latest = {r.value.product_id: r.value for r in batch}
    return [{"id": p.product_id, "category": p.category, "name": p.name} for p in latest.values()]


class ProductGraphSink(DeletingSink[Product]):
    """``products.catalog`` -> product nodes; tombstones delete them."""

    name = "neo4j-products"

    def __init__(self, graph: GraphConnection, publisher: InvalidationPublisher) -> None:
        self._graph = graph
        self._publisher = publisher
        product, user = graph.labels.product, graph.labels.user
        self._upsert = f"""
            UNWIND $rows AS row
            MERGE (p:`{product}` {{id: row.id}})
            SET p.category = row.category, p.name = row.name"""
        self._delete = f"""
            UNWIND $ids AS id
            MATCH (p:`{product}` {{id: id}})
            OPTIONAL MATCH (u:`{user}`)-[:{INTERACTED}]->(p)
            WITH p, collect(DISTINCT u.id) AS users
            DETACH DELETE p
            RETURN users"""
        self._ready = False

    async def setup(self) -> None:
        await self._graph.acquire()
        try:
            await self._publisher.setup()
        except BaseException:
            await self._graph.release()
            raise
        self._ready = True

    async def write(self, batch: Sequence[SinkRecord[Product]]) -> Sequence[Rejection[Product]]:
        if batch:
            await self._graph.driver.execute_query(
                self._upsert, rows=product_rows(batch), database_=self._graph.database
            )
        return ()

    async def delete(self, deletions: Sequence[Deletion]) -> None:
        ids: dict[str, Deletion] = {}
        for deletion in deletions:
            try:
                ids[deletion.key.decode()] = deletion
            except UnicodeDecodeError:  # keys are str(product_id).encode(): names no product
                log.warning("tombstone key is not UTF-8", extra={"offset": deletion.offset})
        if not ids:
            return

        async def delete(tx: AsyncManagedTransaction) -> set[str]:
            result = await tx.run(self._delete, ids=list(ids))
            return {user async for record in result for user in record["users"]}

        async with self._graph.driver.session(database=self._graph.database) as session:
            users = await session.execute_write(delete)
        last = max(ids.values(), key=lambda d: (d.partition, d.offset))
        cause = f"{last.topic}/{last.partition}/{last.offset}"
        now = datetime.now(UTC)
        await self._publisher.publish(
            [invalidation(u, "product_deleted", cause, now) for u in sorted(users)]
        )

    def is_transient(self, exc: BaseException) -> bool:
        return is_transient_graph_error(exc)

    async def close(self) -> None:
        if self._ready:
            self._ready = False
            await self._publisher.close()
            await self._graph.release()
