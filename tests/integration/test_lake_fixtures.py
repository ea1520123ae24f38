"""Helpers the lake's integration tests share (no test here): events with Kafka coordinates, and
DuckDB read-backs of a lake."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from polystream_common.schemas import SensorReading, UserEventV1, UserEventV2
from polystream_common.sink import SinkRecord
from polystream_lake import open_lake, read_parquet_sql

TOPIC = "user.events"
DAY_ONE = date(2026, 11, 30)


def user_records(
    offsets: range, *, partition: int = 0, topic: str = TOPIC, days: int = 2
) -> list[SinkRecord[Any]]:
    """One user event per offset, the same event for the same offset (as Kafka redelivers it):
    even offsets are v1, odd ones v2 with a device; event dates cycle over ``days`` days."""
    records: list[SinkRecord[Any]] = []
    for offset in offsets:
        event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{topic}/{partition}/{offset}")
        when = datetime(2026, 11, 30, 12, tzinfo=UTC) + timedelta(days=offset % days)
        common: dict[str, Any] = {
            "event_id": event_id,
            "event_time": when,
            "user_id": f"u{offset % 7}",
            "session_id": f"s{offset % 11}",
            "event_type": "purchase" if offset % 5 == 0 else "view",
            "product_id": f"p{offset % 13}",
            "price": 9.5 if offset % 5 == 0 else None,
            "quantity": 2 if offset % 5 == 0 else None,
        }
        event: UserEventV1 | UserEventV2 = (
            UserEventV1(**common) if offset % 2 == 0 else UserEventV2(**common, device="ios")
        )
        records.append(SinkRecord(event, topic, partition, offset))
    return records


def sensor_records(offsets: range, *, partition: int = 0) -> list[SinkRecord[Any]]:
    return [
        SinkRecord(
            SensorReading(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"sensor/{partition}/{offset}"),
                event_time=datetime(2026, 11, 30, 8, tzinfo=UTC) + timedelta(seconds=offset),
                sensor_id=f"sensor-{offset % 3}",
                sensor_type="temperature",
                location="lab",
                unit="C",
                value=20.0 + offset / 10,
            ),
            "sensor.readings",
            partition,
            offset,
        )
        for offset in offsets
    ]


def lake_rows(root: Path, stream: str, *, exact: bool = False) -> list[tuple[Any, ...]]:
    """(event_id, kafka_partition, kafka_offset) of every row DuckDB reads for ``stream``."""
    source = read_parquet_sql(open_lake(root), stream, exact=exact)
    with duckdb.connect() as db:
        return db.sql(f"select event_id, kafka_partition, kafka_offset from {source}").fetchall()


def count_and_distinct(root: Path, stream: str, *, exact: bool = False) -> tuple[int, int]:
    rows = lake_rows(root, stream, exact=exact)
    return len(rows), len({r[0] for r in rows})


def parquet_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
