"""graph-writer's benchmark: relationship writes/s end to end (user events from Kafka, decoded,
aggregated, written to Neo4j in one transaction per batch with the watermarks, invalidations
published, offsets checkpointed) against a raw batched ``UNWIND ... MERGE`` of the same rows into
the same Neo4j (the same statements, one transaction per batch of the same size, no Kafka, no
watermarks, no invalidations), in the same run. Importable (``bench_graph_writer``) for
bench/run.py; ``python bench/graph_bench.py`` runs it alone and writes
bench/results/graph_writer.json.

The service's rate is records/s from its group's committed offsets (bench/run.py's
``service_rate``), turned into relationship writes/s by the rows its batches make (interactions
aggregated per user, target and type, plus campaign attributions): both sides write the same
rows, so the ratio is the same in records or in relationships. Each side writes under a label
prefix of its own (empty at the start), dropped after with the run's topics and group.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction
from results_file import median_run, write_results

from graph_writer.interactions import InteractionStatements
from graph_writer.rows import GraphBatch, plan_batch
from polystream_common.schemas import AnyUserEvent
from polystream_common.sink import SinkRecord
from polystream_common.topics import USER_EVENTS
from polystream_readmodels.graph import GraphLabels

BATCH = 5_000  # the consumer loop's default batch_size: the service's batches, at most
TARGET = 0.7


async def drop_graph(driver: AsyncDriver, labels: GraphLabels) -> None:
    for label in labels.all():
        await driver.execute_query(f"MATCH (n:`{label}`) DETACH DELETE n")
    for name in labels.constraint_names():
        await driver.execute_query(f"DROP CONSTRAINT `{name}` IF EXISTS")


def planned_batches(records: list[SinkRecord[AnyUserEvent]]) -> list[GraphBatch]:
    """The rows of ``records`` in batches of :data:`BATCH`, as the service plans them."""
    batches = []
    for start in range(0, len(records), BATCH):
        chunk = sorted(records[start : start + BATCH], key=lambda r: (r.partition, r.offset))
        batches.append(plan_batch(chunk, {}))
    return batches


async def raw_unwind_merge_rate(
    driver: AsyncDriver, labels: GraphLabels, batches: list[GraphBatch]
) -> float:
    """Relationship writes/s of the bare statements, one ``execute_write`` per batch."""
    for statement in labels.constraints():
        await driver.execute_query(statement)
    cypher = InteractionStatements(labels)

    async def write(tx: AsyncManagedTransaction, batch: GraphBatch) -> None:
        for statement, rows in (
            (cypher.product_interactions, batch.products),
            (cypher.campaign_interactions, batch.campaigns),
            (cypher.promotes, batch.promotes),
        ):
            if rows:
                await (await tx.run(statement, rows=rows)).consume()

    started = time.perf_counter()
    async with driver.session() as session:
        for batch in batches:
            await session.execute_write(write, batch)
    return sum(b.relationships for b in batches) / (time.perf_counter() - started)


async def bench_graph_writer(events: int, workdir: Path) -> dict[str, Any]:
    """One run: graph-writer's relationships/s vs the raw ``UNWIND ... MERGE`` ceiling."""
    import run  # bench/run.py, which imports this module: only once it is loaded

    ns = run.Namespace()
    service_labels, raw_labels = GraphLabels(f"{ns.schema}_"), GraphLabels(f"{ns.schema}_raw_")
    stack = run.STACK
    uri = f"bolt://127.0.0.1:{stack['NEO4J_BOLT_PORT']}"
    env = {
        **ns.env("graph_writer"),
        "GRAPH_WRITER_NEO4J__URI": uri,
        "GRAPH_WRITER_NEO4J__USER": stack["NEO4J_USER"],
        "GRAPH_WRITER_NEO4J__PASSWORD": stack["NEO4J_PASSWORD"],
        "GRAPH_WRITER_LABEL_PREFIX": service_labels.prefix,
    }
    driver = AsyncGraphDatabase.driver(uri, auth=(stack["NEO4J_USER"], stack["NEO4J_PASSWORD"]))
    try:
        run.run_producer(ns, events, "user-events=1", workdir)
        records_per_s = await run.service_rate(
            "graph_writer",
            env,
            events,
            run.committed_records(ns.group, ns.stream(USER_EVENTS)),
            workdir / "graph-writer.log",
        )
        records = run.read_topic(ns.stream(USER_EVENTS), events)
        batches = planned_batches(records)
        relationships = sum(b.relationships for b in batches)
        stored, _, _ = await driver.execute_query(
            f"MATCH (:`{service_labels.user}`)-[r:INTERACTED]->() RETURN sum(r.count) AS n"
        )
        expected = sum(row["count"] for b in batches for row in (*b.products, *b.campaigns))
        if stored[0]["n"] != expected:
            raise RuntimeError(f"graph-writer counted {stored[0]['n']} interactions of {expected}")
        ceiling = await raw_unwind_merge_rate(driver, raw_labels, batches)
    finally:
        for labels in (service_labels, raw_labels):
            await drop_graph(driver, labels)
        await driver.close()
        await ns.drop()
    per_record = relationships / events
    return {
        "events": events,
        "relationship_rows": relationships,
        "batch_records": BATCH,
        "service_records_per_s": round(records_per_s),
        "service_relationships_per_s": round(records_per_s * per_record),
        "raw_unwind_merge_relationships_per_s": round(ceiling),
        "ratio": round(records_per_s * per_record / ceiling, 3),
        "target": TARGET,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="user events per run")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the median ratio is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [asyncio.run(bench_graph_writer(args.events, Path(tmp))) for _ in range(args.repeat)]
    write_results("graph_writer", {"graph_writer_vs_raw_unwind_merge": median_run(runs)})


if __name__ == "__main__":
    main()
