"""Every stream into the Parquet lake end to end: the seeded load producer's 100k mixed records
with poison, lake-writer SIGKILLed mid-run and restarted, then DuckDB's count over the lake must
equal the valid records produced, with no event_id twice; the poison is in the DLQs, not the
lake. Compaction afterwards changes no count.

The mix is the three event streams: on the products table the loop keeps only the latest record
of a key within a batch (compaction's own rule), so how many catalog records land depends on how
batches are cut, and no exact count exists to assert."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from polystream_common.topics import CHAT_MESSAGES, PRODUCTS, SENSOR_READINGS, USER_EVENTS, Stream
from polystream_lake import open_lake, read_parquet_sql

from .conftest import (
    ROOT,
    E2ENamespace,
    assert_dlq_holds_exactly,
    group_lag,
    run_producer,
    scrape,
    wait_until,
)

pytestmark = pytest.mark.e2e

MODULE = "lake_writer"
COUNT = 100_000
POISON_RATE = 0.01
MIX = "sensors=1,user-events=1,chat=0.5"
LAKE_STREAMS: tuple[tuple[Stream[Any], str], ...] = (
    (SENSOR_READINGS, "sensor_readings"),
    (USER_EVENTS, "user_events"),
    (CHAT_MESSAGES, "chat_messages"),
)


def lake_counts(lake: Path, stream: str) -> tuple[int, int]:
    """(rows, distinct event ids) DuckDB reads for ``stream``; (0, 0) while it has no file yet."""
    source = read_parquet_sql(open_lake(lake), stream)
    try:
        with duckdb.connect() as db:
            rows = db.sql(f"select count(*), count(distinct event_id) from {source}").fetchall()
    except duckdb.IOException:  # no file yet, or one merged away while being listed
        return (0, 0)
    return int(rows[0][0]), int(rows[0][1])


def total_rows(lake: Path) -> int:
    return sum(lake_counts(lake, name)[0] for _, name in LAKE_STREAMS)


def all_lag(ns: E2ENamespace) -> int:
    group = ns.group(MODULE)
    streams = [s for s, _ in LAKE_STREAMS] + [PRODUCTS]
    return sum(group_lag(ns.bootstrap, group, ns.stream(s).topic) for s in streams)


def test_sigkill_mid_run_then_restart_the_lake_holds_each_valid_record_once(
    tmp_path: Path,
    services: Any,
    namespace: E2ENamespace,
    kafka_bootstrap: str,
    unused_tcp_port: int,
) -> None:
    ns = namespace
    report = run_producer(
        [
            "load",
            "--count",
            str(COUNT),
            "--mix",
            MIX,
            "--rate",
            "0",
            "--poison-rate",
            str(POISON_RATE),
            "--seed",
            "23",
            "--quiet",
        ],
        tmp_path / "producer.json",
        ns.env("producer"),
    )
    assert report["errors"] == 0 and int(report["acked"]) == COUNT
    valid: dict[str, int] = {}
    poison: dict[str, int] = {}
    for stream, name in LAKE_STREAMS:
        topic = ns.stream(stream).topic
        poison[name] = int(report["poison"].get(topic, 0))
        valid[name] = int(report["per_topic"][topic]) - poison[name]
        assert poison[name] > 0 and valid[name] > 0
    total_valid = sum(valid.values())
    assert total_valid + sum(poison.values()) == COUNT

    lake = tmp_path / "lake"
    # Small batches: many checkpoints to fall between, and a run slow enough to kill mid-way.
    env = ns.env(
        MODULE, LAKE__URI=str(lake), CONSUMER__BATCH_SIZE="2000", CONSUMER__BATCH_TIMEOUT_S="1"
    )
    first = services(MODULE, env)
    wait_until(
        lambda: total_rows(lake) >= total_valid // 5,
        300,
        "a fifth of the records in the lake before the kill",
        service=first,
        every_s=0.2,
    )
    first.kill()
    assert total_rows(lake) < total_valid, "killed too late to prove anything"

    second = services(MODULE, ns.env(MODULE, unused_tcp_port, LAKE__URI=str(lake)))
    wait_until(lambda: all_lag(ns) == 0, 400, "lag 0", service=second)

    for _, name in LAKE_STREAMS:
        assert lake_counts(lake, name) == (valid[name], valid[name]), name
    for stream, name in LAKE_STREAMS:
        assert_dlq_holds_exactly(kafka_bootstrap, ns.stream(stream), poison[name])
    # Both user event versions side by side; device is null for every v1 row.
    source = read_parquet_sql(open_lake(lake), "user_events")
    with duckdb.connect() as db:
        by_version = db.sql(
            f"select schema_version, count(*), count(device) from {source} group by 1 order by 1"
        ).fetchall()
    assert [v for v, *_ in by_version] == [1, 2]
    assert by_version[0][2] == 0 and by_version[1][2] > 0
    metrics = scrape(unused_tcp_port)
    assert metrics["polystream_lake_files_written_total"] > 0
    assert second.terminate() == 0

    # Compaction of everything written: one file per date, topic and version; counts unchanged.
    files_before = len(list(lake.rglob("*.parquet")))
    result = subprocess.run(
        [sys.executable, "-m", MODULE, "compact", "--before", "2100-01-01"],
        env={**os.environ, **ns.env(MODULE, LAKE__URI=str(lake), COMPACTION__MIN_AGE_S="0")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    compacted = json.loads(result.stdout)
    assert sum(s["compactions"] for s in compacted["streams"].values()) > 0
    assert len(list(lake.rglob("*.parquet"))) < files_before
    for _, name in LAKE_STREAMS:
        assert lake_counts(lake, name) == (valid[name], valid[name]), name
