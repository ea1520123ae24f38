"""``make bench``: each figure as a ratio to a ceiling measured on the same machine in the same run.

- producer: ``python -m producer load`` at full speed vs Kafka's Java ProducerPerformance, same
  broker, same record size, same producer settings (acks=all, idempotence, linger, lz4);
- sensor-consumer: rows/s from Kafka into PostgreSQL through the whole service vs plain asyncpg
  COPY of the same rows into the same table (the write ceiling, no Kafka, no dedupe);
- event-consumer: documents/s from Kafka (user.events) into MongoDB through the whole service vs
  plain pymongo ``insert_many`` (unordered, batches of 5000) of the same documents into the same
  collection on the same server.

``--only sensor`` (producer and sensor-consumer, bench/results/sensor.json) or ``--only events``
(event-consumer, bench/results/events.json) runs one part; both by default. Each file records the
command that made it. Each part runs ``--repeat`` times (3) and reports the run with the median
ratio, with every run's ratio beside it. Not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from kafka_peer import java_producer_perf
from pymongo import AsyncMongoClient

from polystream_common.schemas import Event
from polystream_common.sink import SinkRecord
from polystream_common.topics import SENSOR_READINGS, USER_EVENTS, Stream, ensure_topics

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BOOTSTRAP = "127.0.0.1:19092"
DSN = "postgresql://polystream:polystream@127.0.0.1:15432/polystream"
MONGO_URL = "mongodb://127.0.0.1:27027"
# The producer's own settings (polystream_common.settings.ProducerSettings defaults).
PRODUCER_PROPS = {
    "acks": "all",
    "enable.idempotence": "true",
    "linger.ms": "20",
    "batch.size": str(256 * 1024),
    "compression.type": "lz4",
}
# How often the stored count is read while a service runs: small against the run's seconds.
COUNT_EVERY_S = 0.05

E = TypeVar("E", bound=Event)


def recreate(stream: Stream[Any]) -> None:
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    names = [stream.topic, stream.dlq_topic]
    present = [n for n in names if n in admin.list_topics(timeout=10).topics]
    if present:
        for f in admin.delete_topics(present, operation_timeout=30).values():
            f.result()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            ensure_topics(admin, [stream])
            return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError(f"could not recreate {stream.topic}")


def run_producer(
    count: int, mix: str, workdir: Path, *, pregenerate: bool = False
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
        stdout=subprocess.DEVNULL,
    )
    return dict(json.loads(report.read_text()))


def read_topic(stream: Stream[E], count: int) -> list[SinkRecord[E]]:
    """The first ``count`` records of ``stream``'s topic, decoded as the consumer loop does."""
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": f"bench-read-{uuid.uuid4()}",
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
    recreate(SENSOR_READINGS)
    ours = run_producer(count, "sensors=1", workdir, pregenerate=True)
    with_generation = run_producer(count, "sensors=1", workdir)
    record_size = round(float(ours["avg_record_bytes"]))
    perf_topic = "bench.producer-perf"
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    if perf_topic not in admin.list_topics(timeout=10).topics:
        topic = NewTopic(perf_topic, SENSOR_READINGS.partitions, 1)
        admin.create_topics([topic])[perf_topic].result()
    peer = java_producer_perf(BOOTSTRAP, perf_topic, count, record_size, PRODUCER_PROPS)
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

    recreate(SENSOR_READINGS)
    run_producer(count, "sensors=1", workdir)
    conn = await asyncpg.connect(DSN)
    try:
        if await conn.fetchval("SELECT to_regclass('sensor_readings') IS NOT NULL"):
            await conn.execute("TRUNCATE sensor_readings, sensors")

        async def stored() -> int:
            return int(await conn.fetchval("SELECT count(*) FROM sensor_readings"))

        env = {
            "SENSOR_CONSUMER_CONSUMER__GROUP_ID": f"bench-{uuid.uuid4().hex[:8]}",
            "SENSOR_CONSUMER_METRICS_PORT": "0",
        }
        rate = await service_rate(
            "sensor_consumer", env, count, stored, workdir / "sensor-consumer.log"
        )
        rows = batch_rows(read_topic(SENSOR_READINGS, count)).rows
        ceiling = await raw_copy_ceiling(DSN, rows)
    finally:
        await conn.close()
    return {
        "rows": count,
        "service_rows_per_s": round(rate),
        "raw_copy_rows_per_s": round(ceiling),
        "ratio": round(rate / ceiling, 3),
        "target": 0.7,
    }


async def bench_event_consumer(count: int, workdir: Path) -> dict[str, Any]:
    from event_consumer.benchmark import raw_insert_many_ceiling
    from event_consumer.documents import USER_EVENTS_COLLECTION, event_document

    recreate(USER_EVENTS)
    run_producer(count, "user-events=1", workdir)
    database = f"bench_{uuid.uuid4().hex[:12]}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URL, tz_aware=True)
    try:
        db = client[database]

        async def stored() -> int:
            return await db[USER_EVENTS_COLLECTION.name].estimated_document_count()

        env = {
            "EVENT_CONSUMER_MONGO__DATABASE": database,
            "EVENT_CONSUMER_CONSUMER__GROUP_ID": f"bench-{uuid.uuid4().hex[:8]}",
            "EVENT_CONSUMER_METRICS_PORT": "0",
        }
        rate = await service_rate(
            "event_consumer", env, count, stored, workdir / "event-consumer.log"
        )
        ingested_at = datetime.now(UTC)
        documents = [event_document(r, ingested_at) for r in read_topic(USER_EVENTS, count)]
        ceiling = await raw_insert_many_ceiling(db, USER_EVENTS_COLLECTION, documents)
    finally:
        await client.drop_database(database)
        await client.close()
    return {
        "documents": count,
        "service_docs_per_s": round(rate),
        "raw_insert_many_docs_per_s": round(ceiling),
        "ratio": round(rate / ceiling, 3),
        "target": 0.7,
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median ratio, with every run's ratio beside it: on a shared 2-core machine
    one noisy run must not make the figure."""
    ordered = sorted(runs, key=lambda run: float(run["ratio"]))
    return {**ordered[len(ordered) // 2], "ratios_of_runs": [run["ratio"] for run in runs]}


def write_results(name: str, figures: dict[str, Any]) -> None:
    results = {
        "command": shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        **figures,
    }
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="records per benchmark")
    parser.add_argument("--only", choices=["sensor", "events"], help="one part (default: all)")
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


if __name__ == "__main__":
    main()
