"""What e2e tests share: a namespace of the test's own on the shared stack, services run as real
processes, Kafka read-backs, /metrics scrapes.

Each test works in a namespace of its own (:class:`E2ENamespace`, the ``namespace`` fixture):
topics under a fresh prefix, its own PostgreSQL schema, MongoDB database and consumer groups,
dropped after the test. Nothing here touches the public topics, schema ``public``, the database
``polystream`` or the services' standard metrics ports, so the tests run beside a ``make run``.
Ports and credentials come from deploy/local/stack.env."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from neo4j import GraphDatabase
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pymilvus import MilvusClient
from pymongo import MongoClient

from polystream_common.dlq import (
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_TOPIC,
)
from polystream_common.topics import Stream

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / ".cache" / "models" / "all-MiniLM-L6-v2"
"""The ONNX export ``make install`` caches (the services' default, relative to the repo root)."""


def wait_until(
    predicate: Callable[[], Any],
    timeout_s: float,
    what: str,
    every_s: float = 0.5,
    service: ServiceProcess | None = None,
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if service is not None and not service.alive():
            pytest.fail(f"while waiting for {what}, {service.exit_report()}")
        if time.monotonic() > deadline:
            tail = f"\n{service.module} log:\n{service.log_tail()}" if service else ""
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}{tail}")
        time.sleep(every_s)


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4()}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
    finally:
        consumer.close()


COORDINATOR_MOVING = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
}


COMMITTED_TIMEOUT_S = 90.0
"""How long a read of a group's committed offsets may wait. A member killed inside a transaction
leaves its offset commit pending until the broker aborts the transaction (``transaction.timeout.ms``
is 60 s, polystream_common.kafka) or a restart with the same transactional id fences it; until
then the broker answers the read_committed offset fetch UNSTABLE_OFFSET_COMMIT and librdkafka
asks again. A 10 s timeout read right after a SIGKILL failed CI."""


def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Sum over partitions of end offset minus the group's committed offset."""
    ends = end_offsets(bootstrap, topic)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                committed = consumer.committed(
                    [TopicPartition(topic, p) for p in ends], timeout=COMMITTED_TIMEOUT_S
                )
                break
            except KafkaException as exc:
                # A new broker is still electing or loading the group's coordinator: ask again.
                if exc.args[0].code() not in COORDINATOR_MOVING or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()
    return sum(ends[tp.partition] - max(tp.offset, 0) for tp in committed)


def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60) -> list[Any]:
    """Every committed record of ``topic``, read from the start up to its end offsets.

    Positions, not record counts, decide the end: transaction markers take offsets too.
    Waits until at least ``expected`` records arrived, then reads to the end.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        while time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is None:
                    records.append(msg)
            if len(records) < expected:
                continue
            ends = end_offsets(bootstrap, topic)
            positions = consumer.position([TopicPartition(topic, p) for p in ends])
            if all(tp.offset >= ends[tp.partition] or ends[tp.partition] == 0 for tp in positions):
                break
    finally:
        consumer.close()
    return records


@dataclass
class ServiceProcess:
    """A service run as ``python -m <module>``, as in production, logging to a file."""

    module: str
    env: dict[str, str]
    log_path: Path
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout_s: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def exit_report(self) -> str:
        """Its exit status and last log line (the exception, when it crashed) first, then the log's
        tail: CI output that long is cut in the middle."""
        assert self.process is not None
        lines = self.log_path.read_text(errors="replace").splitlines() or ["(empty log)"]
        return f"{self.module} exited {self.process.poll()}: {lines[-1]}\n{self.log_tail()}"


@dataclass(frozen=True)
class E2ENamespace:
    """One test's own corner of the shared local stack. ``env(module)`` configures a service (or
    the producer) to use it: topics under ``topic_prefix``, the PostgreSQL schema
    ``postgres_schema``, the MongoDB database ``mongo_database``, the Neo4j labels under
    ``label_prefix``, the consumer group ``group(module)``, and the stack's servers at the ports
    of stack.env."""

    name: str
    stack: dict[str, str]

    @property
    def topic_prefix(self) -> str:
        return f"{self.name}."

    @property
    def postgres_schema(self) -> str:
        return self.name.replace("-", "_")

    @property
    def mongo_database(self) -> str:
        return self.name.replace("-", "_")

    @property
    def collection_prefix(self) -> str:
        """Prefix of the namespace's vector collections (names must be identifiers)."""
        return f"{self.postgres_schema}_"

    @property
    def label_prefix(self) -> str:
        """Prefix of the namespace's Neo4j labels and constraints (graph-writer's graph)."""
        return f"{self.postgres_schema}_"

    @property
    def neo4j_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.stack['NEO4J_BOLT_PORT']}"

    @property
    def milvus_uri(self) -> str:
        return f"http://127.0.0.1:{self.stack['MILVUS_PORT']}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.stack['KAFKA_PORT']}"

    def stream(self, stream: Stream[Any]) -> Stream[Any]:
        """``stream`` as the test's services see it: its topic (and DLQ) under the prefix."""
        return stream.namespaced(self.topic_prefix)

    def group(self, module: str) -> str:
        """The consumer group of ``module`` (``sensor_consumer``, ...) in this namespace."""
        return f"{self.name}.{module}"

    def env(self, module: str, metrics_port: int = 0, **extra: str) -> dict[str, str]:
        """Environment of ``python -m <module>`` in this namespace; ``metrics_port`` 0 serves no
        /metrics. ``extra`` adds settings by field name (``POSTGRES__PORT="5433"``)."""
        prefix = f"{module.upper()}_"
        settings = {
            "KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA__TOPIC_PREFIX": self.topic_prefix,
            "CONSUMER__GROUP_ID": self.group(module),
            "METRICS_PORT": str(metrics_port),
            "POSTGRES__HOST": "127.0.0.1",
            "POSTGRES__PORT": self.stack["POSTGRES_PORT"],
            "POSTGRES__USER": self.stack["POSTGRES_USER"],
            "POSTGRES__PASSWORD": self.stack["POSTGRES_PASSWORD"],
            "POSTGRES__DATABASE": self.stack["POSTGRES_DB"],
            "POSTGRES_SCHEMA": self.postgres_schema,
            "MONGO__URL": f"mongodb://127.0.0.1:{self.stack['MONGO_PORT']}",
            "MONGO__DATABASE": self.mongo_database,
            "MILVUS__URI": self.milvus_uri,
            "COLLECTION_PREFIX": self.collection_prefix,
            "EMBEDDING__MODEL_DIR": str(MODEL_DIR),
            "NEO4J__URI": self.neo4j_uri,
            "NEO4J__USER": self.stack["NEO4J_USER"],
            "NEO4J__PASSWORD": self.stack["NEO4J_PASSWORD"],
            "LABEL_PREFIX": self.label_prefix,
            **extra,
        }
        return {prefix + key: value for key, value in settings.items()}

    def drop(self) -> None:
        """Delete the namespace's topics and consumer groups, its schema, its database, its
        vector collections and its graph (nodes and constraints under its label prefix)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        topics = [
            t for t in admin.list_topics(timeout=10).topics if t.startswith(self.topic_prefix)
        ]
        if topics:
            for future in admin.delete_topics(topics, operation_timeout=30).values():
                future.result()
        groups = [
            g.group_id
            for g in admin.list_consumer_groups(request_timeout=10).result().valid
            if g.group_id.startswith(f"{self.name}.")
        ]
        if groups:
            for future in admin.delete_consumer_groups(groups, request_timeout=30).values():
                future.result()
        drop_postgres_schema(self.stack, self.postgres_schema)
        with MongoClient(f"mongodb://127.0.0.1:{self.stack['MONGO_PORT']}") as client:
            client.drop_database(self.mongo_database)
        milvus = MilvusClient(uri=self.milvus_uri)
        try:
            for name in milvus.list_collections():
                if name.startswith(self.collection_prefix):
                    milvus.drop_collection(name)
        finally:
            milvus.close()
        drop_graph(self.stack, self.label_prefix)


def drop_graph(stack: dict[str, str], label_prefix: str) -> None:
    """DETACH DELETE the nodes of every label under ``label_prefix`` and drop its constraints."""
    auth = (stack["NEO4J_USER"], stack["NEO4J_PASSWORD"])
    with GraphDatabase.driver(f"bolt://127.0.0.1:{stack['NEO4J_BOLT_PORT']}", auth=auth) as driver:
        labels, _, _ = driver.execute_query(
            "CALL db.labels() YIELD label WHERE label STARTS WITH $prefix RETURN label",
            prefix=label_prefix,
        )
        for record in labels:
            driver.execute_query(f"MATCH (n:`{record['label']}`) DETACH DELETE n")
        constraints, _, _ = driver.execute_query(
            "SHOW CONSTRAINTS YIELD name WHERE name STARTS WITH $prefix RETURN name",
            prefix=label_prefix,
        )
        for record in constraints:
            driver.execute_query(f"DROP CONSTRAINT `{record['name']}` IF EXISTS")


def drop_postgres_schema(stack: dict[str, str], schema: str, port: str | None = None) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(**postgres_kwargs(stack, port))
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


def postgres_kwargs(stack: dict[str, str], port: str | None = None) -> dict[str, Any]:
    """asyncpg connection arguments of the stack's PostgreSQL (or of one on ``port``)."""
    return {
        "host": "127.0.0.1",
        "port": int(port or stack["POSTGRES_PORT"]),
        "user": stack["POSTGRES_USER"],
        "password": stack["POSTGRES_PASSWORD"],
        "database": stack["POSTGRES_DB"],
    }


@pytest.fixture
def namespace(stack: dict[str, str]) -> Iterator[E2ENamespace]:
    """A fresh namespace for this test (see :class:`E2ENamespace`), dropped after it."""
    ns = E2ENamespace(f"e2e-{uuid.uuid4().hex[:8]}", stack)
    yield ns
    ns.drop()


@pytest.fixture
def services(tmp_path: Path, namespace: E2ENamespace) -> Iterator[Callable[..., ServiceProcess]]:
    """Start services; whatever is still running at the end of the test is killed (before the
    test's namespace is dropped: this fixture depends on it, so it is torn down first)."""
    started: list[ServiceProcess] = []

    def start(module: str, env: dict[str, str], *args: str) -> ServiceProcess:
        service = ServiceProcess(module, env, tmp_path / f"{module}.log", args).start()
        started.append(service)
        return service

    yield start
    for service in started:
        if service.alive():
            service.kill()


def run_producer(
    args: list[str], report: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run the load producer to completion and return its JSON report."""
    result = subprocess.run(
        [sys.executable, "-m", "producer", *args, "--json", str(report)],
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return dict(json.loads(report.read_text()))


def delete_products(ns: E2ENamespace, product_ids: list[str]) -> dict[str, Any]:
    """Publish tombstones with ``python -m producer delete-product`` in the namespace; its JSON
    report (the topic and the ids deleted)."""
    result = subprocess.run(
        [sys.executable, "-m", "producer", "delete-product", *product_ids],
        env={**os.environ, **ns.env("producer")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(json.loads(result.stdout))


def scrape(port: int) -> dict[str, float]:
    """Sum of each metric's samples on a service's /metrics, by sample name."""
    totals: dict[str, float] = {}
    for sample in samples(port):
        totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def samples(port: int) -> list[Sample]:
    """Every sample on a service's /metrics, with its labels."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return [s for family in text_string_to_metric_families(body) for s in family.samples]


def metric(port: int, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(
        s.value
        for s in samples(port)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def assert_dlq_holds_exactly(bootstrap: str, stream: Stream[Any], poison: int) -> list[Any]:
    """The stream's DLQ holds ``poison`` letters, one per origin offset, with the origin headers."""
    letters = read_all(bootstrap, stream.dlq_topic, poison)
    assert len(letters) == poison
    origins = set()
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers()}
        assert headers[HEADER_TOPIC] == stream.topic
        assert int(headers[HEADER_PARTITION]) >= 0 and int(headers[HEADER_OFFSET]) >= 0
        assert headers[HEADER_ERROR_CLASS] in {"InvalidJSON", "SchemaViolation"}
        assert headers[HEADER_ERROR_MESSAGE]
        origins.add((headers[HEADER_PARTITION], headers[HEADER_OFFSET]))
    assert len(origins) == poison  # each poison record once
    return letters


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PG_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass
class PrivatePostgres:
    """A PostgreSQL of one test's own, run by the local stack's deploy/local/postgres/start.sh
    with its own data dir and port: an outage test stops and starts this one, never the shared
    server that a running ``make run`` writes to."""

    stack_dir: Path
    port: int
    stack: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 120) -> None:
        log = (self.stack_dir / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            ["bash", str(ROOT / "deploy" / "local" / "postgres" / "start.sh")],
            env={**os.environ, "STACK_DIR": str(self.stack_dir), "POSTGRES_PORT": str(self.port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self.ready, timeout_s, f"the private PostgreSQL on port {self.port}")

    def ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            log = (self.stack_dir / "postgres.log").read_text(errors="replace")[-3000:]
            pytest.fail(f"the private PostgreSQL exited:\n{log}")
        probe = [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(probe, check=False).returncode == 0

    def stop(self) -> None:
        """PostgreSQL's fast shutdown (SIGINT), as the stack's supervisor stops it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(60)

    def remove(self) -> None:
        """Stop it and delete its data (kept outside ``stack_dir`` when the postgres OS user
        cannot reach that: start.sh links it from ``postgres-home``)."""
        self.stop()
        home = self.stack_dir / "postgres-home"
        if home.is_symlink():
            shutil.rmtree(home.resolve(), ignore_errors=True)


@pytest.fixture
def private_postgres(tmp_path: Path, stack: dict[str, str]) -> Iterator[PrivatePostgres]:
    """A running PostgreSQL of this test's own (same user, password and database as the stack's),
    on a free port; deleted after the test."""
    server = PrivatePostgres(tmp_path / "postgres-stack", free_port(), stack)
    server.stack_dir.mkdir()
    server.start()
    yield server
    server.remove()
