"""``make bench``: each figure as a ratio to a ceiling measured on the same machine in the same run.

- producer: ``python -m producer load`` at full speed vs Kafka's Java ProducerPerformance, same
  broker, same record size, same producer settings (acks=all, idempotence, linger, lz4);
- sensor-consumer: rows/s from Kafka into PostgreSQL through the whole service vs plain asyncpg
  COPY of the same rows into the same table (the write ceiling, no Kafka, no dedupe).

Results go to bench/results/sensor.json with the command that made them. Not a test: nothing here
asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from kafka_peer import java_producer_perf

from polystream_common.topics import SENSOR_READINGS, Stream, ensure_topics

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BOOTSTRAP = "127.0.0.1:19092"
DSN = "postgresql://polystream:polystream@127.0.0.1:15432/polystream"
# The producer's own settings (polystream_common.settings.ProducerSettings defaults).
PRODUCER_PROPS = {
    "acks": "all",
    "enable.idempotence": "true",
    "linger.ms": "20",
    "batch.size": str(256 * 1024),
    "compression.type": "lz4",
}


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


async def pg_count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM sensor_readings"))


async def bench_sensor_consumer(count: int, workdir: Path) -> dict[str, Any]:
    from sensor_consumer.benchmark import raw_copy_ceiling
    from sensor_consumer.postgres import rows_for

    recreate(SENSOR_READINGS)
    run_producer(count, "sensors=1", workdir)
    conn = await asyncpg.connect(DSN)
    try:
        if await conn.fetchval("SELECT to_regclass('sensor_readings') IS NOT NULL"):
            await conn.execute("TRUNCATE sensor_readings, sensors")
        group = f"bench-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "SENSOR_CONSUMER_CONSUMER__GROUP_ID": group,
            "SENSOR_CONSUMER_METRICS_PORT": "0",
        }
        log = (workdir / "sensor-consumer.log").open("wb")
        proc = subprocess.Popen(  # noqa: ASYNC220 - the service under test, not awaited
            [sys.executable, "-m", "sensor_consumer"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while (first := await pg_count(conn)) == 0:  # noqa: ASYNC110 - polls PostgreSQL
                await asyncio.sleep(0.05)
            started = time.perf_counter()
            while (n := await pg_count(conn)) < count:
                if proc.poll() is not None:
                    raise RuntimeError("sensor-consumer exited during the bench")
                await asyncio.sleep(0.05)
            service_rows_per_s = (n - first) / (time.perf_counter() - started)
        finally:
            proc.terminate()
            proc.wait(30)
        readings = [SENSOR_READINGS.decode(m) for m in read_topic(SENSOR_READINGS.topic, count)]
        ceiling = await raw_copy_ceiling(DSN, rows_for(readings))
    finally:
        await conn.close()
    return {
        "rows": count,
        "service_rows_per_s": round(service_rows_per_s),
        "raw_copy_rows_per_s": round(ceiling),
        "ratio": round(service_rows_per_s / ceiling, 3),
        "target": 0.7,
    }


def read_topic(topic: str, count: int) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": f"bench-read-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    try:
        while len(values) < count:
            for msg in consumer.consume(5000, 1.0):
                if msg.error() is None and msg.value() is not None:
                    values.append(msg.value())
    finally:
        consumer.close()
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results = {
            "command": f"make bench  # python bench/run.py --records {args.records}",
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "producer_vs_java_perf_tool": bench_producer(args.records, workdir),
            "sensor_consumer_vs_raw_copy": asyncio.run(
                bench_sensor_consumer(args.records, workdir)
            ),
        }
    out = RESULTS / "sensor.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
