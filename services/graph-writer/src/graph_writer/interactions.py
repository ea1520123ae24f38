"""InteractionGraphSink: ``user.events`` -> users, their interactions with products and campaigns,
and the campaigns' promoted products, in Neo4j.

One ``execute_write`` transaction per batch, in this order:

1. lock and read the watermarks of the batch's partitions (``MERGE``, then ``SET``: the write
   lock is held until commit, so a second writer of the same partitions, e.g. a fenced
   predecessor still finishing a batch, waits and then sees the new watermark);
2. keep the records above them (:func:`graph_writer.rows.unapplied`), read the latest click
   sessions the batch needs, plan the rows (:func:`graph_writer.rows.plan_batch`);
3. ``UNWIND $rows ... MERGE`` users, targets and relationships, adding counts; raise the
   watermarks.

Then, committed, the users of the batch's interactions are invalidated (see
``graph_writer.invalidations``). Relationship shape (one per user, target and event type) and
attribution: ``polystream_readmodels.graph`` and ``graph_writer.rows``.

No partition hooks: the watermark is read under a lock inside each transaction, never cached, so
after a rebalance or a crash there is nothing in memory to drop or rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from neo4j import AsyncManagedTransaction

from graph_writer.graph import GraphConnection, is_transient_graph_error
from graph_writer.invalidations import InvalidationPublisher, invalidations_for
from graph_writer.rows import (
    GraphBatch,
    UserCampaign,
    clicks_to_look_up,
    partitions_of,
    plan_batch,
    unapplied,
)
from polystream_common.schemas import AnyUserEvent
from polystream_common.sink import Rejection, Sink, SinkRecord
from polystream_readmodels.graph import CAMPAIGN_CLICK, INTERACTED, PROMOTES, GraphLabels

log = logging.getLogger(__name__)

_COUNTS_ON_MATCH = """
    r.count = r.count + row.count,
    r.first_at = CASE WHEN row.first_at < r.first_at THEN row.first_at ELSE r.first_at END,
    r.last_at = CASE WHEN row.last_at > r.last_at THEN row.last_at ELSE r.last_at END"""
_COUNTS_ON_CREATE = "r.count = row.count, r.first_at = row.first_at, r.last_at = row.last_at"


class InteractionStatements:
    """The Cypher of one batch, under one namespace's labels."""

    def __init__(self, labels: GraphLabels) -> None:
        user, product, campaign, mark = (
            labels.user,
            labels.product,
            labels.campaign,
            labels.watermark,
        )
        self.lock_watermarks = f"""
            UNWIND $partitions AS p
            MERGE (w:`{mark}` {{id: p.id}})
            ON CREATE SET w.topic = p.topic, w.partition = p.partition, w.offset = -1
            SET w.locked_at = datetime()
            RETURN w.id AS id, w.offset AS offset"""
        self.click_sessions = f"""
            UNWIND $pairs AS pair
            MATCH (:`{user}` {{id: pair.user}})-[r:{INTERACTED} {{type: '{CAMPAIGN_CLICK}'}}]->
                  (:`{campaign}` {{id: pair.campaign}})
            RETURN pair.user AS user, pair.campaign AS campaign, r.session AS session"""
        self.product_interactions = interactions(user, product)
        self.campaign_interactions = (
            interactions(user, campaign) + "\nSET r.session = coalesce(row.session, r.session)"
        )
        self.promotes = f"""
            UNWIND $rows AS row
            MERGE (c:`{campaign}` {{id: row.campaign}})
            MERGE (p:`{product}` {{id: row.product}})
            MERGE (c)-[r:{PROMOTES}]->(p)
            ON CREATE SET {_COUNTS_ON_CREATE}
            ON MATCH SET {_COUNTS_ON_MATCH}"""
        self.raise_watermarks = f"""
            UNWIND $rows AS row
            MATCH (w:`{mark}` {{id: row.id}})
            SET w.offset = CASE WHEN row.offset > w.offset THEN row.offset ELSE w.offset END,
                w.updated_at = datetime()"""


def interactions(user_label: str, target_label: str) -> str:
    """``UNWIND $rows ... MERGE`` of (user)-[:INTERACTED {type}]->(target), adding counts; the
    same statement the benchmark's raw ceiling runs."""
    return f"""
        UNWIND $rows AS row
        MERGE (u:`{user_label}` {{id: row.user}})
        MERGE (t:`{target_label}` {{id: row.target}})
        MERGE (u)-[r:{INTERACTED} {{type: row.type}}]->(t)
        ON CREATE SET {_COUNTS_ON_CREATE}
        ON MATCH SET {_COUNTS_ON_MATCH}"""


class InteractionGraphSink(Sink[AnyUserEvent]):
    """``user.events`` -> ``(:User)-[:INTERACTED]->(:Product|:Campaign)`` and
    ``(:Campaign)-[:PROMOTES]->(:Product)``, exactly once per record (per-partition watermarks),
    then cache invalidations for the batch's users."""

    name = "neo4j-interactions"

    def __init__(self, graph: GraphConnection, publisher: InvalidationPublisher) -> None:
        self._graph = graph
        self._publisher = publisher
        self._cypher = InteractionStatements(graph.labels)
        self._ready = False

    async def setup(self) -> None:
        await self._graph.acquire()
        try:
            await self._publisher.setup()
        except BaseException:
            await self._graph.release()
            raise
        self._ready = True

    async def write(
        self, batch: Sequence[SinkRecord[AnyUserEvent]]
    ) -> Sequence[Rejection[AnyUserEvent]]:
        if not batch:
            return ()
        async with self._graph.driver.session(database=self._graph.database) as session:
            planned: GraphBatch = await session.execute_write(self._apply, batch)
        skipped = len(batch) - planned.applied
        if skipped:
            log.info("redelivered records skipped", extra={"skipped": skipped})
        await self._publisher.publish(invalidations_for(batch))
        return ()

    async def _apply(
        self, tx: AsyncManagedTransaction, batch: Sequence[SinkRecord[AnyUserEvent]]
    ) -> GraphBatch:
        """One transaction: watermarks (locked), then the batch's unapplied records. Runs again
        from the start if the driver retries it."""
        cypher = self._cypher
        result = await tx.run(cypher.lock_watermarks, partitions=partitions_of(batch))
        watermarks = {r["id"]: r["offset"] async for r in result}
        records = unapplied(batch, watermarks)
        planned = plan_batch(records, await self._stored_clicks(tx, records))
        planned.applied = len(records)
        for statement, rows in (
            (cypher.product_interactions, planned.products),
            (cypher.campaign_interactions, planned.campaigns),
            (cypher.promotes, planned.promotes),
            (cypher.raise_watermarks, planned.watermarks),
        ):
            if rows:
                await (await tx.run(statement, rows=rows)).consume()
        return planned

    async def _stored_clicks(
        self, tx: AsyncManagedTransaction, records: Sequence[SinkRecord[AnyUserEvent]]
    ) -> dict[UserCampaign, str]:
        pairs = clicks_to_look_up(records)
        if not pairs:
            return {}
        rows: list[dict[str, Any]] = [{"user": u, "campaign": c} for u, c in sorted(pairs)]
        result = await tx.run(self._cypher.click_sessions, pairs=rows)
        return {(r["user"], r["campaign"]): r["session"] async for r in result if r["session"]}

    def is_transient(self, exc: BaseException) -> bool:
        return is_transient_graph_error(exc)

    async def close(self) -> None:
        if self._ready:
            self._ready = False
            await self._publisher.close()
            await self._graph.release()
