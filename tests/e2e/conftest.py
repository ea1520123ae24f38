"""What e2e tests share: fresh topics, services run as real processes, Kafka read-backs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from polystream_common.dlq import (
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_TOPIC,
)
from polystream_common.topics import Stream, ensure_topics

ROOT = Path(__file__).resolve().parents[2]


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
            pytest.fail(f"{service.module} exited while waiting for {what}:\n{service.log_tail()}")
        if time.monotonic() > deadline:
            tail = f"\n{service.module} log:\n{service.log_tail()}" if service else ""
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}{tail}")
        time.sleep(every_s)


def recreate_topics(bootstrap: str, streams: list[Stream[Any]]) -> None:
    """Delete the streams' topics and their DLQs, then create them empty: exact counts need it."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [n for s in streams for n in (s.topic, s.dlq_topic)]
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [n for n in names if n in existing]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result()
    wait_until(
        lambda: not (set(names) & set(admin.list_topics(timeout=10).topics)), 60, "topic deletion"
    )

    def created() -> bool:
        try:
            ensure_topics(admin, streams)
        except KafkaException:
            return False  # still marked for deletion
        return True

    wait_until(created, 60, "topic creation")


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


def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Sum over partitions of end offset minus the group's committed offset."""
    ends = end_offsets(bootstrap, topic)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                committed = consumer.committed([TopicPartition(topic, p) for p in ends], timeout=10)
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


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Start services; whatever is still running at the end of the test is killed."""
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


def stack_process(action: str, name: str) -> None:
    """Stop or start one process of the local stack (a store outage)."""
    subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / "stack.sh"), action, name],
        check=True,
        capture_output=True,
        timeout=300,
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
