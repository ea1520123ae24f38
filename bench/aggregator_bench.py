"""The aggregator's throughput: user events/s through the whole service (``python -m aggregator``,
exactly-once, RocksDB state, PostgreSQL sinks) on N pre-produced user events, the figure that
bench/stream_libs measures for each library's bare tumbling-window count.

What is timed: from the first input offset the service commits to the moment every input record
is committed *and* every record it repartitioned by entity has been counted into its window
(the repartition topic's committed offsets at its end, less the last transaction's marker). The
engagement windows are 1 minute by event time; the sensor dataflow runs but gets no records.

``bench_aggregator(count, workdir)`` is importable (``bench/run.py`` may call it);
``python bench/aggregator_bench.py [--records N]`` runs it once and writes
``bench/results/aggregator.json`` (the shape of ``bench/run.py``'s ``write_results``), with the
peers' figures of ``bench/stream_libs/results.json`` beside it when that file exists.

Everything runs in a namespace of its own (topics under a fresh prefix, consumer group, schema,
state dir), deleted after; a running ``make run`` is left alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from results_file import write_results
from stack_env import read_stack_env

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "bench" / "stream_libs" / "results.json"
POLL_S = 0.05
PARTITIONS = 6  # user.events and so its repartition topic
TIMEOUT_S = 900


STACK = read_stack_env()
BOOTSTRAP = f"127.0.0.1:{STACK['KAFKA_PORT']}"


class _Namespace:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.prefix = f"bench-{tag}."
        self.group = f"bench-{tag}.aggregator"
        self.schema = f"bench_{tag}"

    def env(self, module: str, state_dir: Path | None = None) -> dict[str, str]:
        settings = {
            "KAFKA__BOOTSTRAP_SERVERS": BOOTSTRAP,
            "KAFKA__TOPIC_PREFIX": self.prefix,
            "CONSUMER__GROUP_ID": self.group,
            "METRICS_PORT": "0",
            "POSTGRES__PORT": STACK["POSTGRES_PORT"],
            "POSTGRES__USER": STACK["POSTGRES_USER"],
            "POSTGRES__PASSWORD": STACK["POSTGRES_PASSWORD"],
            "POSTGRES__DATABASE": STACK["POSTGRES_DB"],
            "POSTGRES_SCHEMA": self.schema,
            "LOG_LEVEL": "WARNING",
        }
        if state_dir is not None:
            settings["STATE_DIR"] = str(state_dir)
        return {f"{module.upper()}_{k}": v for k, v in settings.items()}

    def drop(self) -> None:
        admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
        topics = [
            t
            for t in admin.list_topics(timeout=10).topics
            if t.startswith(self.prefix) or f"__{self.group}--" in t
        ]
        if topics:
            for future in admin.delete_topics(topics, operation_timeout=30).values():
                future.result()
        for future in admin.delete_consumer_groups([self.group], request_timeout=30).values():
            with contextlib.suppress(Exception):  # never joined (a failed run): nothing to delete
                future.result()

        async def drop_schema() -> None:
            conn = await asyncpg.connect(
                host="127.0.0.1",
                port=int(STACK["POSTGRES_PORT"]),
                user=STACK["POSTGRES_USER"],
                password=STACK["POSTGRES_PASSWORD"],
                database=STACK["POSTGRES_DB"],
            )
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            finally:
                await conn.close()

        asyncio.run(drop_schema())


def _produce(ns: _Namespace, count: int, workdir: Path) -> dict[str, Any]:
    report = workdir / "producer.json"
    subprocess.run(
        [sys.executable, "-m", "producer", "load", "--count", str(count), "--mix",
         "user-events=1", "--rate", "0", "--seed", "1", "--quiet", "--json", str(report)],
        check=True,
        cwd=ROOT,
        env={**os.environ, **ns.env("producer")},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return dict(json.loads(report.read_text()))


class _Progress:
    """The group's committed offsets on the input and repartition topics (one request each)."""

    def __init__(self, ns: _Namespace) -> None:
        self.input = f"{ns.prefix}user.events"
        self.repartition = f"repartition__{ns.group}--{self.input}--entity"
        self._consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": ns.group})

    def committed(self, topic: str) -> list[int]:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return [max(tp.offset, 0) for tp in self._consumer.committed(partitions, timeout=10)]

    def ends(self, topic: str) -> list[int]:
        return [
            self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(PARTITIONS)
        ]

    def counted_all(self) -> bool:
        """Every repartitioned record consumed: each partition's committed offset is at its end
        but for the marker of the transaction that wrote its last record."""
        ends = self.ends(self.repartition)
        return all(c >= e - 1 for c, e in zip(self.committed(self.repartition), ends, strict=True))

    def close(self) -> None:
        self._consumer.close()


def bench_aggregator(count: int, workdir: Path) -> dict[str, Any]:
    """User events/s of the aggregator service on ``count`` pre-produced user events."""
    ns = _Namespace()
    log = workdir / "aggregator.log"
    try:
        produced = _produce(ns, count, workdir)
        progress = _Progress(ns)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "aggregator"],
                env={**os.environ, **ns.env("aggregator", workdir / "state")},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + TIMEOUT_S
                while (first := sum(progress.committed(progress.input))) == 0:
                    _check(proc, deadline, log)
                    time.sleep(POLL_S)
                started = time.perf_counter()
                while sum(progress.committed(progress.input)) < count:
                    _check(proc, deadline, log)
                    time.sleep(POLL_S)
                input_s = time.perf_counter() - started
                while not progress.counted_all():
                    _check(proc, deadline, log)
                    time.sleep(POLL_S)
                elapsed = time.perf_counter() - started
                interactions = sum(progress.ends(progress.repartition)) - PARTITIONS
            finally:
                proc.terminate()
                proc.wait(60)
                progress.close()
    finally:
        ns.drop()
    return {
        "events": count,
        "producer_events_per_s": produced["messages_per_s"],
        "interactions_repartitioned_about": interactions,
        "events_timed": count - first,
        "seconds": round(elapsed, 2),
        "aggregator_events_per_s": round((count - first) / elapsed),
        "input_stage_events_per_s": round((count - first) / input_s),
        "target_events_per_s": 10_000,
    }


def _check(proc: subprocess.Popen[bytes], deadline: float, log: Path) -> None:
    if proc.poll() is not None:
        raise RuntimeError(f"the aggregator exited during the bench; see {log}")
    if time.monotonic() > deadline:
        raise TimeoutError(f"the aggregator did not finish in {TIMEOUT_S}s; see {log}")


def _peers() -> dict[str, Any] | None:
    if not PEERS.exists():
        return None
    try:
        return dict(json.loads(PEERS.read_text()))
    except ValueError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=200_000, help="user events")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = bench_aggregator(args.records, Path(tmp))
    write_results(
        "aggregator",
        {"aggregator_quix_streams": figures, "peers_bench_stream_libs": _peers()},
    )


if __name__ == "__main__":
    main()
