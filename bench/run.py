"""``make bench``: each figure as a ratio to a ceiling measured on the same machine in the same run.

- producer: ``python -m producer load`` at full speed vs Kafka's Java ProducerPerformance, same
  broker, same record size, same producer settings (acks=all, idempotence, linger, lz4);
- sensor-consumer: rows/s from Kafka into PostgreSQL through the whole service vs plain asyncpg
  COPY of the same rows into the same table (the write ceiling, no Kafka, no dedupe);
- event-consumer: documents/s from Kafka (user.events) into MongoDB through the whole service vs
  plain pymongo ``insert_many`` (unordered, batches of 5000) of the same documents into the same
  collection on the same server;
- embedder: sentences/s end to end (chat messages from Kafka, encoded, upserted into Milvus,
  profiles updated, checkpointed) vs raw ``encoder.encode`` of the same texts, same backend and
  encoder batch size; beside it the two encoder backends side by side (bench/encoders.py) and each
  vector store's upserts/s and search p50/p99 through our adapter vs its own client
  (bench/vector_stores.py);
- graph-writer: relationships/s from Kafka into Neo4j through the whole service vs a raw batched
  ``UNWIND ... MERGE`` of the same rows into the same Neo4j (bench/graph_bench.py);
- aggregator: user events/s through the whole Quix Streams service (exactly-once), beside the
  figures of faust-streaming and bare Quix Streams on the same workload (bench/stream_libs);
- recsys-api: precision/recall/NDCG@10 of the hybrid recommender against its baselines
  (bench/recsys_quality.py; no stack, no ceiling); and requests/s and p50/p99 of
  /recommendations and /products/search under wrk, cache hit and miss, beside the raw Redis GET
  round trip as the floor (bench/recsys_http.py);
- lake-writer: rows/s of the lake writer vs raw ``pq.write_table`` of the same files, a
  redelivery cut differently, and compaction vs a raw read + concat + write (bench/lake_bench.py);
- warehouse: a full ``dbt build`` and an incremental one (a new day) on a lake of 1M events, vs
  DuckDB's raw scan of the same lake (bench/warehouse_bench.py);
- shop-api: orders/s and p50/p99 under wrk on a hot and on spread products, beside a raw
  single-statement ``UPDATE ... RETURNING`` stock deduction as the floor (bench/shop_bench.py).

``--only sensor|events|embedder|graph|aggregator|recsys-quality|recsys-http|lake|warehouse|shop``
runs one part (results in bench/results/{sensor,events,embedder,graph_writer,aggregator,
recsys-quality,recsys-http,lake,warehouse,shop}.json); all by default. Each file records the
command that made it. Each part runs ``--repeat`` times (3) and reports the run with the median
ratio, with every run's ratio beside it (the aggregator, which has no ceiling of its own, the
recommender's quality, the APIs' HTTP loads run once; the warehouse repeats inside its part).
Not a test: nothing here asserts a timing.

Servers are the local stack's, at the ports of deploy/local/stack.env. Each run works in a
namespace of its own, dropped after it: topics under a fresh prefix, its own PostgreSQL schema,
MongoDB database and consumer group, no metrics port. A running ``make run`` is left alone (its
figures then share the CPU with it, of course).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aggregator_bench
import asyncpg
import embedder_bench
import encoders
import graph_bench
import lake_bench
import recsys_http
import recsys_quality
import shop_bench
import vector_stores
import warehouse_bench
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from kafka_peer import java_producer_perf
from pymongo import AsyncMongoClient
from results_file import RESULTS, median_run, write_results
from stack_env import read_stack_env

from polystream_common.schemas import Event
from polystream_common.sink import SinkRecord
from polystream_common.topics import CHAT_MESSAGES, SENSOR_READINGS, USER_EVENTS, Stream
from polystream_embeddings.settings import EmbeddingSettings

ROOT = Path(__file__).resolve().parents[1]


STACK = read_stack_env()
BOOTSTRAP = f"127.0.0.1:{STACK['KAFKA_PORT']}"
DSN = (
    f"postgresql://{STACK['POSTGRES_USER']}:{STACK['POSTGRES_PASSWORD']}"
    f"@127.0.0.1:{STACK['POSTGRES_PORT']}/{STACK['POSTGRES_DB']}"
)
MONGO_URL = f"mongodb://127.0.0.1:{STACK['MONGO_PORT']}"
MILVUS_URI = f"http://127.0.0.1:{STACK['MILVUS_PORT']}"
# The producer's own settings (polystream_common.settings.ProducerSettings defaults).
PRODUCER_PROPS = {
    "acks": "all",
    "enable.idempotence": "true",
    "linger.ms": "20",
    "batch.size": str(256 * 1024),
    "compression.type": "lz4",
}
# How often the checkpointed count is read while a service runs: small against the run's seconds.
COUNT_EVERY_S = 0.05

E = TypeVar("E", bound=Event)


class Namespace:
    """One bench run's own topics (under ``prefix``), PostgreSQL schema, MongoDB database and
    consumer group; :meth:`drop` deletes them."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.prefix = f"bench-{tag}."
        self.schema = self.database = f"bench_{tag}"
        self.group = f"bench-{tag}"

    def stream(self, stream: Stream[E]) -> Stream[E]:
        return stream.namespaced(self.prefix)

    def env(self, service: str) -> dict[str, str]:
        """Settings of ``python -m <service>`` in this namespace, servers from stack.env."""
        settings = {
            "KAFKA__BOOTSTRAP_SERVERS": BOOTSTRAP,
            "KAFKA__TOPIC_PREFIX": self.prefix,
            "CONSUMER__GROUP_ID": self.group,
            "METRICS_PORT": "0",
            "POSTGRES__HOST": "127.0.0.1",
            "POSTGRES__PORT": STACK["POSTGRES_PORT"],
            "POSTGRES__USER": STACK["POSTGRES_USER"],
            "POSTGRES__PASSWORD": STACK["POSTGRES_PASSWORD"],
            "POSTGRES__DATABASE": STACK["POSTGRES_DB"],
            "POSTGRES_SCHEMA": self.schema,
            "MONGO__URL": MONGO_URL,
            "MONGO__DATABASE": self.database,
        }
        return {f"{service.upper()}_{key}": value for key, value in settings.items()}

    async def drop(self) -> None:
        admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
        topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(self.prefix)]
        if topics:
            for future in admin.delete_topics(topics, operation_timeout=30).values():
                future.result()
        groups = [
            g.group_id
            for g in admin.list_consumer_groups(request_timeout=10).result().valid
            if g.group_id.startswith(self.group)
        ]
        if groups:
            for future in admin.delete_consumer_groups(groups, request_timeout=30).values():
                future.result()
        conn = await asyncpg.connect(DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        finally:
            await conn.close()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URL)
        try:
            await client.drop_database(self.database)
        finally:
            await client.close()


def run_producer(
    ns: Namespace, count: int, mix: str, workdir: Path, *, pregenerate: bool = False
) -> dict[str, Any]:
    report = workdir / f"producer-{mix}-{pregenerate}.json"
    extra = ["--pregenerate"] if pregenerate else []
    subprocess.run(
        [
            sys.executable,
            "-m",
            "producer",
            "load",
            "--count",
            str(count),
            "--mix",
            mix,
            "--rate",
            "0",
            "--seed",
            "1",
            "--quiet",
            "--json",
            str(report),
            *extra,
        ],
        check=True,
        cwd=ROOT,
        env={**os.environ, **ns.env("producer")},
        stdout=subprocess.DEVNULL,
    )
    return dict(json.loads(report.read_text()))


def read_topic(stream: Stream[E], count: int) -> list[SinkRecord[E]]:
    """The first ``count`` records of ``stream``'s topic, decoded as the consumer loop does."""
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            # Named under the topic's prefix: the run's Namespace.drop deletes it.
            "group.id": f"{stream.topic}.reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([stream.topic])
    records: list[SinkRecord[E]] = []
    try:
        while len(records) < count:
            for msg in consumer.consume(5000, 1.0):
                if msg.error() is None and (value := msg.value()) is not None:
                    event = stream.decode(value)
                    records.append(
                        SinkRecord(
                            event, stream.topic, msg.partition() or 0, msg.offset() or 0, msg.key()
                        )
                    )
    finally:
        consumer.close()
    return records


def committed_records(group: str, stream: Stream[Any]) -> Callable[[], Awaitable[int]]:
    """Records the service has checkpointed: the sum of its group's committed offsets (the topic
    has no transaction markers). One request to the group coordinator: unlike a ``count(*)``
    every 50 ms, the observer takes no CPU from the store the service writes to."""
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group})
    partitions = [TopicPartition(stream.topic, p) for p in range(stream.partitions)]

    async def committed() -> int:
        offsets = await asyncio.to_thread(consumer.committed, partitions, 10)
        return sum(max(tp.offset, 0) for tp in offsets)

    return committed


async def service_rate(
    module: str,
    env: dict[str, str],
    count: int,
    stored: Callable[[], Awaitable[int]],
    log: Path,
) -> float:
    """Records/s of ``python -m module`` (the whole service, as a process) from the first record
    ``stored()`` sees to all ``count``; the service is stopped after."""
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220 - the service under test, not awaited
            [sys.executable, "-m", module],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            while (first := await stored()) == 0:
                if proc.poll() is not None:
                    raise RuntimeError(f"{module} exited before writing; see {log}")
                await asyncio.sleep(COUNT_EVERY_S)
            started = time.perf_counter()
            while (n := await stored()) < count:
                if proc.poll() is not None:
                    raise RuntimeError(f"{module} exited during the bench; see {log}")
                await asyncio.sleep(COUNT_EVERY_S)
            return (n - first) / (time.perf_counter() - started)
        finally:
            proc.terminate()
            proc.wait(30)


def bench_producer(count: int, workdir: Path) -> dict[str, Any]:
    ns = Namespace()
    try:
        ours = run_producer(ns, count, "sensors=1", workdir, pregenerate=True)
        with_generation = run_producer(ns, count, "sensors=1", workdir)
        record_size = round(float(ours["avg_record_bytes"]))
        perf_topic = f"{ns.prefix}producer-perf"
        admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
        topic = NewTopic(perf_topic, SENSOR_READINGS.partitions, 1)
        admin.create_topics([topic])[perf_topic].result()
        peer = java_producer_perf(BOOTSTRAP, perf_topic, count, record_size, PRODUCER_PROPS)
    finally:
        asyncio.run(ns.drop())
    return {
        "records": count,
        "record_bytes": record_size,
        "ours_records_per_s": ours["messages_per_s"],
        "ours_mb_per_s": ours["mb_per_s"],
        "ours_latency_ms": ours["latency_ms"],
        "ours_with_generation_records_per_s": with_generation["messages_per_s"],
        "java_records_per_s": peer.records_per_s,
        "java_mb_per_s": peer.mb_per_s,
        "java_latency_ms": {"p50": peer.p50_ms, "p99": peer.p99_ms},
        "java_command": peer.command,
        "ratio": round(ours["messages_per_s"] / peer.records_per_s, 3),
        "ratio_with_generation": round(with_generation["messages_per_s"] / peer.records_per_s, 3),
        "target": 0.8,
    }


async def bench_sensor_consumer(count: int, workdir: Path) -> dict[str, Any]:
    from sensor_consumer.benchmark import raw_copy_ceiling
    from sensor_consumer.postgres import batch_rows

    ns = Namespace()
    run_producer(ns, count, "sensors=1", workdir)
    conn = await asyncpg.connect(DSN, server_settings={"search_path": f'"{ns.schema}"'})
    try:

        async def stored() -> int:
            # The service creates its schema and tables when it starts.
            if not await conn.fetchval("SELECT to_regclass('sensor_readings') IS NOT NULL"):
                return 0
            return int(await conn.fetchval("SELECT count(*) FROM sensor_readings"))

        rate = await service_rate(
            "sensor_consumer",
            ns.env("sensor_consumer"),
            count,
            committed_records(ns.group, ns.stream(SENSOR_READINGS)),
            workdir / "sensor-consumer.log",
        )
        if (written := await stored()) != count:
            raise RuntimeError(f"sensor-consumer wrote {written} rows of {count}")
        rows = batch_rows(read_topic(ns.stream(SENSOR_READINGS), count)).rows
        # Into the table the service wrote, in the same schema.
        ceiling = await raw_copy_ceiling(DSN, rows, schema=ns.schema)
    finally:
        await conn.close()
        await ns.drop()
    return {
        "rows": count,
        "service_rows_per_s": round(rate),
        "raw_copy_rows_per_s": round(ceiling),
        "ratio": round(rate / ceiling, 3),
        "target": 0.8,
    }


async def bench_event_consumer(count: int, workdir: Path) -> dict[str, Any]:
    from event_consumer.benchmark import raw_insert_many_ceiling
    from event_consumer.documents import event_document
    from polystream_readmodels.collections import USER_EVENTS_COLLECTION

    ns = Namespace()
    run_producer(ns, count, "user-events=1", workdir)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URL, tz_aware=True)
    try:
        db = client[ns.database]

        async def stored() -> int:
            return await db[USER_EVENTS_COLLECTION.name].estimated_document_count()

        rate = await service_rate(
            "event_consumer",
            ns.env("event_consumer"),
            count,
            committed_records(ns.group, ns.stream(USER_EVENTS)),
            workdir / "event-consumer.log",
        )
        if (written := await stored()) != count:
            raise RuntimeError(f"event-consumer wrote {written} documents of {count}")
        ingested_at = datetime.now(UTC)
        records = read_topic(ns.stream(USER_EVENTS), count)
        documents = [event_document(r, ingested_at) for r in records]
        # Into the collection the service wrote, in the same database.
        ceiling = await raw_insert_many_ceiling(db, USER_EVENTS_COLLECTION, documents)
    finally:
        await client.close()
        await ns.drop()
    return {
        "documents": count,
        "service_docs_per_s": round(rate),
        "raw_insert_many_docs_per_s": round(ceiling),
        "ratio": round(rate / ceiling, 3),
        "target": 0.8,
    }


async def bench_embedder(count: int, workdir: Path) -> dict[str, Any]:
    ns = Namespace()
    prefix, backend = f"{ns.schema}_", "onnx"
    run_producer(ns, count, "chat=1", workdir)
    try:
        rate = await service_rate(
            "embedder",
            embedder_bench.embedder_env(ns.env("embedder"), MILVUS_URI, prefix, backend),
            count,
            committed_records(ns.group, ns.stream(CHAT_MESSAGES)),
            workdir / "embedder.log",
        )
        texts = [r.value.text for r in read_topic(ns.stream(CHAT_MESSAGES), count)]
        settings = EmbeddingSettings(model_dir=embedder_bench.MODEL_DIR, backend=backend)
        ceiling = await asyncio.to_thread(embedder_bench.raw_encode_rate, texts, settings)
    finally:
        await asyncio.to_thread(embedder_bench.drop_collections, MILVUS_URI, prefix)
        await ns.drop()
    return embedder_bench.figures(count, rate, ceiling, backend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="records per benchmark")
    parser.add_argument(
        "--only",
        choices=[
            "sensor",
            "events",
            "embedder",
            "graph",
            "aggregator",
            "recsys-quality",
            "recsys-http",
            "lake",
            "warehouse",
            "shop",
        ],
        help="one part (default: all)",
    )
    parser.add_argument(
        "--sentences", type=int, default=3_000, help="chat messages of the embedder benchmark"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each part; the median ratio is reported"
    )
    args = parser.parse_args()
    runs = range(args.repeat)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.only in (None, "sensor"):
            producer = median_run([bench_producer(args.records, workdir) for _ in runs])
            consumer = median_run(
                [asyncio.run(bench_sensor_consumer(args.records, workdir)) for _ in runs]
            )
            write_results(
                "sensor",
                {"producer_vs_java_perf_tool": producer, "sensor_consumer_vs_raw_copy": consumer},
            )
        if args.only in (None, "events"):
            events = median_run(
                [asyncio.run(bench_event_consumer(args.records, workdir)) for _ in runs]
            )
            write_results("events", {"event_consumer_vs_raw_insert_many": events})
        if args.only in (None, "graph"):
            graph = median_run(
                [asyncio.run(graph_bench.bench_graph_writer(50_000, workdir)) for _ in runs]
            )
            write_results("graph_writer", {"graph_writer_vs_raw_unwind_merge": graph})
        if args.only in (None, "aggregator"):
            # No ceiling of its own: the figure set against the peer library's (bench/stream_libs).
            aggregator = aggregator_bench.bench_aggregator(args.records, workdir)
            write_results("aggregator", {"aggregator_quix_streams": aggregator})
        if args.only in (None, "recsys-quality"):
            write_results("recsys-quality", recsys_quality.bench_quality())
        if args.only in (None, "recsys-http"):
            http = asyncio.run(recsys_http.bench_recsys_http(workdir))
            write_results("recsys-http", {"recsys_api_http": http})
        if args.only in (None, "lake"):
            lake = median_run([lake_bench.bench_once(100_000, workdir) for _ in runs])
            write_results("lake", {"lake_writer_vs_raw_write_table": lake})
        if args.only in (None, "warehouse"):
            # The full rebuild and the incremental run each repeat inside (median kept there).
            figures = warehouse_bench.bench_warehouse(1_000_000, workdir, repeat=args.repeat)
            write_results("warehouse", {"warehouse_dbt_vs_raw_scan": figures})
        if args.only in (None, "shop"):
            shop = asyncio.run(shop_bench.bench_shop(workdir))
            write_results("shop", {"shop_api_orders": shop})
        if args.only in (None, "embedder"):
            service = median_run(
                [asyncio.run(bench_embedder(args.sentences, workdir)) for _ in runs]
            )
            backends = encoders.bench_backends(encoders.product_sentences(2_000), batch_size=64)
            # Fewer points and queries than bench/vector_stores.py's own defaults: at Milvus's
            # Strong consistency every search waits for a time tick (~200 ms).
            stores = asyncio.run(
                vector_stores.bench_vector_stores(
                    points=10_000, queries=100, qdrant_points=1_500, qdrant_queries=30
                )
            )
            write_results(
                "embedder",
                {
                    "embedder_vs_raw_encode": service,
                    "onnx_vs_torch_backends": backends,
                    "vector_stores_vs_raw_clients": stores,
                },
            )


if __name__ == "__main__":
    main()
