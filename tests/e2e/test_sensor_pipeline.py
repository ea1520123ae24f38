"""Sensor readings end to end: producer -> Kafka -> sensor-consumer -> PostgreSQL, with poison
mixed in and the consumer SIGKILLed mid-run. Counts must be exact."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from polystream_common.dlq import (
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_TOPIC,
)
from polystream_common.topics import SENSOR_READINGS

from .conftest import group_lag, read_all, recreate_topics, run_producer, wait_until

pytestmark = pytest.mark.e2e

COUNT = 100_000
POISON_RATE = 0.01


def count_rows(dsn: str) -> tuple[int, int, int]:
    """(rows, distinct event ids, sensors) in PostgreSQL."""

    async def query() -> tuple[int, int, int]:
        conn = await asyncpg.connect(dsn)
        try:
            row = await conn.fetchrow(
                "SELECT count(*) AS n, count(DISTINCT event_id) AS d,"
                " (SELECT count(*) FROM sensors) AS s FROM sensor_readings"
            )
            return int(row["n"]), int(row["d"]), int(row["s"])
        finally:
            await conn.close()

    return asyncio.run(query())


def reset_tables(dsn: str) -> None:
    async def truncate() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            exists = await conn.fetchval("SELECT to_regclass('sensor_readings') IS NOT NULL")
            if exists:
                await conn.execute("TRUNCATE sensor_readings, sensors")
        finally:
            await conn.close()

    asyncio.run(truncate())


@pytest.fixture
def fresh_sensor_path(kafka_bootstrap: str, postgres_dsn: str) -> str:
    recreate_topics(kafka_bootstrap, [SENSOR_READINGS])
    reset_tables(postgres_dsn)
    return f"e2e-sensor-{uuid.uuid4().hex[:8]}"


def consumer_env(group: str, metrics_port: int = 0) -> dict[str, str]:
    return {
        "SENSOR_CONSUMER_CONSUMER__GROUP_ID": group,
        "SENSOR_CONSUMER_METRICS_PORT": str(metrics_port),
    }


def produce(tmp_path: Path) -> tuple[int, int]:
    report = run_producer(
        [
            "load",
            "--count",
            str(COUNT),
            "--mix",
            "sensors=1",
            "--rate",
            "0",
            "--poison-rate",
            str(POISON_RATE),
            "--seed",
            "7",
        ],
        tmp_path / "producer.json",
    )
    poison = int(report["poison"][SENSOR_READINGS.topic])
    assert report["errors"] == 0
    assert int(report["acked"]) == COUNT
    assert 0.5 * COUNT * POISON_RATE < poison < 1.5 * COUNT * POISON_RATE
    return COUNT - poison, poison


def scrape(port: int) -> dict[str, float]:
    """Sum of each metric family's samples on a service's /metrics, by sample name."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    totals: dict[str, float] = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            totals[name] = totals.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return totals


def assert_dlq_holds_exactly(bootstrap: str, poison: int) -> list[Any]:
    letters = read_all(bootstrap, SENSOR_READINGS.dlq_topic, poison)
    assert len(letters) == poison
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers()}
        assert headers[HEADER_TOPIC] == SENSOR_READINGS.topic
        assert int(headers[HEADER_PARTITION]) >= 0 and int(headers[HEADER_OFFSET]) >= 0
        assert headers[HEADER_ERROR_CLASS] in {"InvalidJSON", "SchemaViolation"}
        assert headers[HEADER_ERROR_MESSAGE]
    origins = {
        (h[HEADER_PARTITION], h[HEADER_OFFSET])
        for h in ({k: v.decode() for k, v in m.headers()} for m in letters)
    }
    assert len(origins) == poison  # each poison record once
    return letters


def test_every_valid_reading_lands_once_and_poison_goes_to_the_dlq(
    tmp_path: Path,
    services: Any,
    fresh_sensor_path: str,
    kafka_bootstrap: str,
    postgres_dsn: str,
    unused_tcp_port: int,
) -> None:
    group = fresh_sensor_path
    valid, poison = produce(tmp_path)
    consumer = services("sensor_consumer", consumer_env(group, unused_tcp_port))

    wait_until(
        lambda: count_rows(postgres_dsn)[0] >= valid,
        300,
        f"{valid} rows in PostgreSQL",
        service=consumer,
    )
    wait_until(
        lambda: group_lag(kafka_bootstrap, group, SENSOR_READINGS.topic) == 0,
        60,
        "consumer lag to reach 0",
    )
    rows, distinct, sensors = count_rows(postgres_dsn)
    assert rows == distinct == valid
    assert sensors > 0
    assert_dlq_holds_exactly(kafka_bootstrap, poison)

    metrics = scrape(unused_tcp_port)
    assert metrics["polystream_records_dlq_total"] == poison
    assert metrics["polystream_records_written_total"] == valid
    assert metrics["polystream_end_to_end_latency_seconds_count"] == valid
    assert consumer.terminate() == 0  # SIGTERM drains and exits cleanly


def test_sigkill_mid_run_then_restart_still_exact(
    tmp_path: Path, services: Any, fresh_sensor_path: str, kafka_bootstrap: str, postgres_dsn: str
) -> None:
    group = fresh_sensor_path
    valid, poison = produce(tmp_path)
    first = services("sensor_consumer", consumer_env(group))
    wait_until(
        lambda: count_rows(postgres_dsn)[0] >= valid // 5,
        300,
        "a fifth of the rows before the kill",
        service=first,
        every_s=0.1,
    )
    first.kill()
    assert count_rows(postgres_dsn)[0] < valid, "killed too late to prove anything"

    second = services("sensor_consumer", consumer_env(group))
    wait_until(
        lambda: group_lag(kafka_bootstrap, group, SENSOR_READINGS.topic) == 0,
        300,
        "consumer lag to reach 0 after the restart",
        service=second,
    )
    rows, distinct, _ = count_rows(postgres_dsn)
    assert rows == distinct == valid
    # The restart may re-publish dead letters of the batch in flight at the kill; each origin
    # offset must still be there exactly once.
    letters = read_all(kafka_bootstrap, SENSOR_READINGS.dlq_topic, poison)
    origins = {
        tuple(v for k, v in m.headers() if k in (HEADER_PARTITION, HEADER_OFFSET)) for m in letters
    }
    assert len(origins) == poison
    assert second.terminate() == 0
