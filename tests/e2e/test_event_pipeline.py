"""User events and chat messages end to end: producer -> Kafka -> event-consumer -> MongoDB, with
poison mixed in and the consumer SIGKILLed mid-run. Counts must be exact.

Each test runs in a namespace of its own (topics, database, group): see conftest.py."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from polystream_common.dlq import (
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_OFFSET,
    HEADER_TOPIC,
)
from polystream_common.topics import CHAT_MESSAGES, USER_EVENTS, Stream

from .conftest import (
    ROOT,
    E2ENamespace,
    assert_dlq_holds_exactly,
    group_lag,
    read_all,
    run_producer,
    scrape,
    wait_until,
)

pytestmark = pytest.mark.e2e

USER_EVENT_COUNT = 50_000
CHAT_COUNT = 10_000
POISON_RATE = 0.01
STREAMS: tuple[tuple[Stream[Any], str, int, str], ...] = (
    # stream, producer mix, records, collection
    (USER_EVENTS, "user-events=1", USER_EVENT_COUNT, "user_events"),
    (CHAT_MESSAGES, "chat=1", CHAT_COUNT, "chat_messages"),
)


def counts(mongo_url: str, database: str) -> dict[str, int]:
    """Documents per collection. ``_id`` is the event id, so a redelivered event cannot add one:
    a count equal to the valid records sent means none lost and none stored twice."""

    async def query() -> dict[str, int]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
        try:
            db = client[database]
            return {name: await db[name].count_documents({}) for *_, name in STREAMS}
        finally:
            await client.close()

    return asyncio.run(query())


def versions(mongo_url: str, database: str) -> dict[int, int]:
    """User events per schema version."""

    async def query() -> dict[int, int]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
        try:
            pipeline = [{"$group": {"_id": "$schema_version", "n": {"$sum": 1}}}]
            cursor = await client[database]["user_events"].aggregate(pipeline)
            return {int(row["_id"]): int(row["n"]) async for row in cursor}
        finally:
            await client.close()

    return asyncio.run(query())


MODULE = "event_consumer"


def produce(ns: E2ENamespace, tmp_path: Path) -> dict[str, tuple[int, int]]:
    """Publish both streams with poison; per collection: (valid, poison) records sent."""
    sent = {}
    for stream, mix, count, collection in STREAMS:
        report = run_producer(
            [
                "load",
                "--count",
                str(count),
                "--mix",
                mix,
                "--rate",
                "0",
                "--poison-rate",
                str(POISON_RATE),
                "--seed",
                "11",
                "--quiet",
            ],
            tmp_path / f"producer-{collection}.json",
            ns.env("producer"),
        )
        poison = int(report["poison"][ns.stream(stream).topic])
        assert report["errors"] == 0
        assert int(report["acked"]) == count
        assert 0.5 * count * POISON_RATE < poison < 1.5 * count * POISON_RATE
        sent[collection] = (count - poison, poison)
    return sent


def all_lag(ns: E2ENamespace) -> int:
    group = ns.group(MODULE)
    return sum(group_lag(ns.bootstrap, group, ns.stream(stream).topic) for stream, *_ in STREAMS)


def test_every_valid_event_and_chat_lands_once_and_poison_goes_to_the_dlq(
    tmp_path: Path,
    services: Any,
    namespace: E2ENamespace,
    kafka_bootstrap: str,
    mongo_url: str,
    unused_tcp_port: int,
) -> None:
    ns, database = namespace, namespace.mongo_database
    sent = produce(ns, tmp_path)
    consumer = services(MODULE, ns.env(MODULE, unused_tcp_port))
    wait_until(lambda: all_lag(ns) == 0, 300, "lag 0", service=consumer)

    stored = counts(mongo_url, database)
    for collection, (valid, _) in sent.items():
        assert stored[collection] == valid, collection
    for stream, _, _, collection in STREAMS:
        assert_dlq_holds_exactly(kafka_bootstrap, ns.stream(stream), sent[collection][1])
    # The generator's shoppers use both schema versions; both land side by side.
    by_version = versions(mongo_url, database)
    assert set(by_version) == {1, 2}
    assert sum(by_version.values()) == sent["user_events"][0]

    metrics = scrape(unused_tcp_port)
    assert metrics["polystream_records_dlq_total"] == sum(p for _, p in sent.values())
    assert metrics["polystream_records_written_total"] == sum(v for v, _ in sent.values())
    assert consumer.terminate() == 0  # SIGTERM drains and exits cleanly


def test_sigkill_mid_run_then_restart_still_exact(
    tmp_path: Path,
    services: Any,
    namespace: E2ENamespace,
    kafka_bootstrap: str,
    mongo_url: str,
) -> None:
    ns, database = namespace, namespace.mongo_database
    sent = produce(ns, tmp_path)
    total_valid = sum(v for v, _ in sent.values())

    def stored() -> int:
        return sum(counts(mongo_url, database).values())

    # Small batches: many checkpoints to fall between, and a run slow enough to kill mid-way.
    small_batches = ns.env(MODULE, CONSUMER__BATCH_SIZE="1000")
    first = services(MODULE, small_batches)
    wait_until(
        lambda: stored() >= total_valid // 5,
        300,
        "a fifth of the documents before the kill",
        service=first,
        every_s=0.1,
    )
    first.kill()
    assert stored() < total_valid, "killed too late to prove anything"

    second = services(MODULE, small_batches)
    wait_until(lambda: all_lag(ns) == 0, 300, "lag 0", service=second)
    final = counts(mongo_url, database)
    for collection, (valid, _) in sent.items():
        assert final[collection] == valid, collection
    for stream, _, _, collection in STREAMS:
        assert_dlq_holds_exactly(kafka_bootstrap, ns.stream(stream), sent[collection][1])
    assert second.terminate() == 0


def test_a_csv_event_log_lands_in_mongodb_and_its_bad_line_in_the_dlq(
    services: Any, namespace: E2ENamespace, kafka_bootstrap: str, mongo_url: str
) -> None:
    """File ingestion feeds the same path: ``producer ingest`` of the sample CSV log."""
    ns, database = namespace, namespace.mongo_database
    sample = ROOT / "services" / "producer" / "samples" / "user-events.csv"
    lines = sample.read_text().splitlines()[1:]
    good_ids = {line.split(",", 1)[0] for line in lines if ",teleport," not in line}
    result = subprocess.run(
        [sys.executable, "-m", "producer", "ingest", str(sample), "--kind", "user-events"],
        env={**os.environ, **ns.env("producer")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]

    consumer = services(MODULE, ns.env(MODULE))
    wait_until(lambda: all_lag(ns) == 0, 120, "lag 0", service=consumer)

    async def stored_ids() -> set[str]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
        try:
            return set(await client[database]["user_events"].distinct("_id"))
        finally:
            await client.close()

    assert asyncio.run(stored_ids()) == good_ids
    (letter,) = read_all(kafka_bootstrap, ns.stream(USER_EVENTS).dlq_topic, 1)
    headers = {k: v.decode() for k, v in letter.headers()}
    assert headers[HEADER_TOPIC] == f"file:{sample}"
    assert headers[HEADER_OFFSET] == str(len(lines) + 1)  # the file's line number
    assert headers[HEADER_ERROR_CLASS] == "SchemaViolation"
    assert "event_type" in headers[HEADER_ERROR_MESSAGE]  # names the field it refused
    assert consumer.terminate() == 0
