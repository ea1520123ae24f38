"""Sensor readings end to end: producer -> Kafka -> sensor-consumer -> PostgreSQL, with poison
mixed in and the consumer SIGKILLed mid-run. Counts must be exact.

Each test runs in a namespace of its own (topics, schema, group): see conftest.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from polystream_common.topics import SENSOR_READINGS

from .conftest import (
    E2ENamespace,
    PrivatePostgres,
    assert_dlq_holds_exactly,
    group_lag,
    metric,
    postgres_kwargs,
    run_producer,
    scrape,
    wait_until,
)

pytestmark = pytest.mark.e2e

COUNT = 100_000
POISON_RATE = 0.01
MODULE = "sensor_consumer"


def count_rows(ns: E2ENamespace, port: str | None = None) -> tuple[int, int, int]:
    """(rows, distinct event ids, sensors) in the namespace's schema (of the server on ``port``,
    the stack's by default); zeros before the service has created the tables."""

    async def query() -> tuple[int, int, int]:
        conn = await asyncpg.connect(
            **postgres_kwargs(ns.stack, port),
            server_settings={"search_path": f'"{ns.postgres_schema}"'},
        )
        try:
            if not await conn.fetchval("SELECT to_regclass('sensors') IS NOT NULL"):
                return 0, 0, 0
            row = await conn.fetchrow(
                "SELECT count(*) AS n, count(DISTINCT event_id) AS d,"
                " (SELECT count(*) FROM sensors) AS s FROM sensor_readings"
            )
            return int(row["n"]), int(row["d"]), int(row["s"])
        finally:
            await conn.close()

    return asyncio.run(query())


def produce(ns: E2ENamespace, tmp_path: Path, count: int = COUNT, seed: int = 7) -> tuple[int, int]:
    """Publish ``count`` readings with poison mixed in; (valid, poison) sent."""
    report = run_producer(
        [
            "load",
            "--count",
            str(count),
            "--mix",
            "sensors=1",
            "--rate",
            "0",
            "--poison-rate",
            str(POISON_RATE),
            "--seed",
            str(seed),
        ],
        tmp_path / f"producer-{seed}.json",
        ns.env("producer"),
    )
    poison = int(report["poison"][ns.stream(SENSOR_READINGS).topic])
    assert report["errors"] == 0
    assert int(report["acked"]) == count
    assert 0.5 * count * POISON_RATE < poison < 1.5 * count * POISON_RATE
    return count - poison, poison


def test_every_valid_reading_lands_once_and_poison_goes_to_the_dlq(
    tmp_path: Path,
    services: Any,
    namespace: E2ENamespace,
    kafka_bootstrap: str,
    unused_tcp_port: int,
) -> None:
    ns, readings = namespace, namespace.stream(SENSOR_READINGS)
    valid, poison = produce(ns, tmp_path)
    consumer = services(MODULE, ns.env(MODULE, unused_tcp_port))

    wait_until(
        lambda: count_rows(ns)[0] >= valid,
        300,
        f"{valid} rows in PostgreSQL",
        service=consumer,
    )
    wait_until(
        lambda: group_lag(kafka_bootstrap, ns.group(MODULE), readings.topic) == 0,
        60,
        "consumer lag to reach 0",
    )
    rows, distinct, sensors = count_rows(ns)
    assert rows == distinct == valid
    assert sensors > 0
    assert_dlq_holds_exactly(kafka_bootstrap, readings, poison)

    metrics = scrape(unused_tcp_port)
    assert metrics["polystream_records_dlq_total"] == poison
    assert metrics["polystream_records_written_total"] == valid
    assert metrics["polystream_end_to_end_latency_seconds_count"] == valid
    assert consumer.terminate() == 0  # SIGTERM drains and exits cleanly


def test_sigkill_mid_run_then_restart_still_exact(
    tmp_path: Path, services: Any, namespace: E2ENamespace, kafka_bootstrap: str
) -> None:
    ns, readings = namespace, namespace.stream(SENSOR_READINGS)
    valid, poison = produce(ns, tmp_path)
    # Small batches: many checkpoints to fall between, and a run slow enough to kill mid-way.
    small_batches = ns.env(MODULE, CONSUMER__BATCH_SIZE="2000")
    first = services(MODULE, small_batches)
    wait_until(
        lambda: count_rows(ns)[0] >= valid // 5,
        300,
        "a fifth of the rows before the kill",
        service=first,
        every_s=0.1,
    )
    first.kill()
    assert count_rows(ns)[0] < valid, "killed too late to prove anything"

    second = services(MODULE, small_batches)
    wait_until(
        lambda: group_lag(kafka_bootstrap, ns.group(MODULE), readings.topic) == 0,
        300,
        "consumer lag to reach 0 after the restart",
        service=second,
    )
    rows, distinct, _ = count_rows(ns)
    assert rows == distinct == valid
    # Dead letters are committed in the same transaction as the offsets: the batch in flight at
    # the kill left none behind, so the DLQ is still exact.
    assert_dlq_holds_exactly(kafka_bootstrap, readings, poison)
    assert second.terminate() == 0


def test_postgres_down_mid_run_pauses_retries_then_loses_nothing(
    tmp_path: Path,
    services: Any,
    namespace: E2ENamespace,
    private_postgres: PrivatePostgres,
    kafka_bootstrap: str,
    unused_tcp_port: int,
) -> None:
    """The outage is of a PostgreSQL of this test's own: the shared one stays up."""
    ns, readings, port = namespace, namespace.stream(SENSOR_READINGS), unused_tcp_port
    pg_port = str(private_postgres.port)

    def lag() -> int:
        return group_lag(kafka_bootstrap, ns.group(MODULE), readings.topic)

    # A first half written with PostgreSQL up, then the second half published while it is down:
    # the outage always falls in the middle of the run, however fast the consumer is.
    valid, poison = produce(ns, tmp_path, COUNT // 2, seed=7)
    consumer = services(MODULE, ns.env(MODULE, port, POSTGRES__PORT=pg_port))
    wait_until(lambda: lag() == 0, 300, "the first half written", service=consumer)
    private_postgres.stop()
    try:
        more_valid, more_poison = produce(ns, tmp_path, COUNT // 2, seed=8)
        valid, poison = valid + more_valid, poison + more_poison
        # The loop keeps the batch, pauses its partitions, retries with backoff, and says so.
        wait_until(
            lambda: (
                metric(port, "polystream_sink_retries_total", sink="postgres") >= 2
                and metric(port, "polystream_consumer_paused") == 1
            ),
            60,
            "retries and paused partitions while PostgreSQL is down",
            service=consumer,
        )
        assert metric(port, "polystream_sink_up", sink="postgres") == 0
        assert consumer.alive()
    finally:
        private_postgres.start()

    wait_until(lambda: lag() == 0, 300, "lag 0 after PostgreSQL came back", service=consumer)
    rows, distinct, _ = count_rows(ns, pg_port)
    assert rows == distinct == valid
    assert_dlq_holds_exactly(kafka_bootstrap, readings, poison)
    assert metric(port, "polystream_sink_up", sink="postgres") == 1
    assert metric(port, "polystream_consumer_paused") == 0
    assert consumer.terminate() == 0
