"""The warehouse tests' seed lake and what its marts must hold, computed here in Python.

The events come from the producer's deterministic generator (``World.build(seed)`` and
``LoadRun(...).records()``) with a clock that steps ``STEP`` per event from ``START``, so they
cover several UTC days; polystream_lake's ``LakeWriter`` writes them, in batches, exactly as
lake-writer would. Then two things lake-writer never writes are put beside them, written with
pyarrow in the lake's own layout and schemas:

- a second copy of one user-events file (a replay or an interrupted compaction's leftover): the
  warehouse must keep each event once and count the copies as ``duplicate_event_id``;
- files of invalid rows (the wire schema refuses them, a foreign or buggy writer would not):
  each must be dropped and counted under its reason.

:func:`run_dbt` runs dbt in-process (``dbtRunner``) on a lake and a DuckDB file of the caller's;
the orchestrator's and the dashboard's tests use it and the :class:`Expected` figures too.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from dbt.cli.main import dbtRunner, dbtRunnerResult

from polystream_common.schemas import (
    ChatMessage,
    Event,
    Product,
    SensorReading,
    UserEventV1,
    UserEventV2,
)
from polystream_common.sink import SinkRecord
from polystream_lake import LAKE_STREAMS, LakeStream, LakeWriter, open_lake
from producer.generators import World
from producer.load import LoadRun, parse_mix

ROOT = Path(__file__).resolve().parents[3]
WAREHOUSE_PROJECT = ROOT / "warehouse"

SEED = 11
COUNT = 4_000
MIX = "sensors=3,user-events=6,chat=1,products=1"
START = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
STEP = timedelta(seconds=97)  # ~4,300 clock reads: five UTC days
BATCH = 400  # records per LakeWriter.write, as one consumer poll

STREAM_OF_TOPIC: dict[str, LakeStream] = {s.topic: s for s in LAKE_STREAMS}

# The rows put in by hand, and the reason each must be dropped for.
INVALID_USER_EVENTS: list[tuple[dict[str, Any], str]] = [
    ({"event_type": "purchase", "price": -5.0, "quantity": 1}, "negative_price"),
    ({"event_type": "refund", "price": 10.0, "quantity": 1}, "unknown_event_type"),
    ({"event_type": "purchase", "price": 10.0, "quantity": 0}, "invalid_quantity"),
    ({"event_type": "view", "user_id": None}, "null_required_field"),
    ({"event_type": "view", "device": "smart_tv"}, "unknown_device"),
    ({"event_type": "purchase", "price": None, "quantity": 2}, "incomplete_purchase"),
]
INVALID_SENSOR_READINGS: list[tuple[dict[str, Any], str]] = [
    ({"sensor_type": "radiation"}, "unknown_sensor_type"),
    ({"value": float("nan")}, "non_finite_value"),
]
INVALID_PRODUCTS: list[tuple[dict[str, Any], str]] = [
    ({"price": -1.0}, "negative_price"),
]


class StepClock:
    """``START``, then ``STEP`` later at each call: the generator's event times, reproducibly."""

    def __init__(self, start: datetime = START, step: timedelta = STEP) -> None:
        self._next, self._step = start, step

    def __call__(self) -> datetime:
        now, self._next = self._next, self._next + self._step
        return now


def seeded_records(count: int = COUNT, seed: int = SEED) -> list[SinkRecord[Event]]:
    """The seed's events with Kafka coordinates (partition by key, offsets in publish order)."""
    run = LoadRun(World.build(seed, clock=StepClock()), parse_mix(MIX), seed)
    offsets: Counter[tuple[str, int]] = Counter()
    records: list[SinkRecord[Event]] = []
    for n, (topic, key, value, _poison) in enumerate(run.records()):
        if n == count:
            break
        stream = STREAM_OF_TOPIC[topic]
        partition = zlib.crc32(key) % stream.stream.partitions
        offset = offsets[(topic, partition)]
        offsets[(topic, partition)] += 1
        records.append(SinkRecord(stream.stream.decode(value), topic, partition, offset, key))
    return records


def write_events(lake: Path, records: Sequence[SinkRecord[Event]]) -> None:
    """Write ``records`` with polystream_lake's writer, ``BATCH`` at a time per stream."""
    location = open_lake(lake)
    by_topic: dict[str, list[SinkRecord[Event]]] = defaultdict(list)
    for record in records:
        by_topic[record.topic].append(record)
    for topic, stream_records in by_topic.items():
        writer = LakeWriter(location, STREAM_OF_TOPIC[topic])
        for start in range(0, len(stream_records), BATCH):
            writer.write(stream_records[start : start + BATCH])


def partition_files(lake: Path, stream: str, day: date) -> list[Path]:
    return sorted((lake / f"stream={stream}" / f"date={day.isoformat()}").glob("*.parquet"))


def duplicate_a_file(lake: Path, day: date) -> tuple[Path, int]:
    """A second copy of the day's first user-events file under another name; its row count."""
    original = partition_files(lake, "user_events", day)[0]
    copy = original.with_name(f"replayed-copy+{original.name}")
    shutil.copyfile(original, copy)
    return copy, pq.read_metadata(copy).num_rows


def write_rows(
    lake: Path, stream: LakeStream, version: int, day: date, rows: list[dict[str, Any]], name: str
) -> Path:
    """``rows`` as one file of ``stream``'s schema ``version`` in the day's partition (every
    column nullable: a foreign writer's file, which may hold what lake-writer's never do)."""
    schema = stream.schema(version)
    schema = pa.schema([f.with_nullable(True) for f in schema], metadata=schema.metadata)
    directory = lake / f"stream={stream.name}" / f"date={day.isoformat()}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def invalid_rows(
    template: Event, changes: list[tuple[dict[str, Any], str]], tag: int
) -> list[dict[str, Any]]:
    """One row per change: ``template``'s fields (a new event_id) with the change applied."""
    rows = []
    for n, (change, _reason) in enumerate(changes):
        row = template.model_dump()
        row.update(
            event_id=f"00000000-0000-4000-8000-{tag:06d}{n:06d}",
            kafka_topic="invalid",
            kafka_partition=99,
            kafka_offset=n,
        )
        if "tags" in row:
            row["tags"] = list(row["tags"])
        row.update(change)
        rows.append(row)
    return rows


@dataclass
class Expected:
    """What the marts must hold, computed from the seed's valid events."""

    events: dict[str, list[Event]]
    duplicate_rows: int = 0
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def user_events(self) -> list[UserEventV1]:
        return [e for e in self.events["user_events"] if isinstance(e, UserEventV1)]

    @property
    def purchases(self) -> list[UserEventV1]:
        return [e for e in self.user_events if e.event_type == "purchase"]

    def days(self) -> list[date]:
        return sorted({day_of(e) for events in self.events.values() for e in events})

    def revenue_by_day(self) -> dict[date, float]:
        revenue: dict[date, float] = defaultdict(float)
        for e in self.purchases:
            assert e.price is not None and e.quantity is not None
            revenue[day_of(e)] += e.price * e.quantity
        return dict(revenue)

    def sessions(self) -> dict[str, list[UserEventV1]]:
        sessions: dict[str, list[UserEventV1]] = defaultdict(list)
        for e in self.user_events:
            sessions[e.session_id].append(e)
        return sessions

    def funnel_by_day(self) -> dict[date, tuple[int, int, int]]:
        """Per session start date: sessions that viewed, carted, purchased."""
        funnel: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
        for events in self.sessions().values():
            types = {e.event_type for e in events}
            counts = funnel[min(day_of(e) for e in events)]
            for i, step in enumerate(("view", "add_to_cart", "purchase")):
                counts[i] += step in types
        return {day: (v, c, p) for day, (v, c, p) in funnel.items()}

    def users(self) -> set[str]:
        chat = self.events["chat_messages"]
        return {e.user_id for e in self.user_events} | {
            e.user_id for e in chat if isinstance(e, ChatMessage)
        }

    def kpis(self) -> dict[str, float]:
        """The dashboard's KPIs: total revenue, orders, active users, conversion."""
        funnel = self.funnel_by_day().values()
        return {
            "total_revenue": sum(self.revenue_by_day().values()),
            "orders": len(self.purchases),
            "active_users": len({e.user_id for e in self.user_events}),
            "conversion": sum(p for _, _, p in funnel) / sum(v for v, _, _ in funnel),
        }


def day_of(event: Event) -> date:
    return event.event_time.astimezone(UTC).date()


def write_seeded_lake(lake: Path) -> Expected:
    """Write the seed lake under ``lake`` and return what its warehouse must hold."""
    records = seeded_records()
    write_events(lake, records)
    events: dict[str, list[Event]] = {s.name: [] for s in LAKE_STREAMS}
    for record in records:
        events[STREAM_OF_TOPIC[record.topic].name].append(record.value)
    expected = Expected(events)
    days = expected.days()

    _copy, expected.duplicate_rows = duplicate_a_file(lake, days[1])
    dropped: dict[str, Counter[str]] = defaultdict(Counter)
    dropped["user_events"]["duplicate_event_id"] = expected.duplicate_rows

    v2 = next(e for e in expected.user_events if isinstance(e, UserEventV2))
    sensor = next(e for e in events["sensor_readings"] if isinstance(e, SensorReading))
    product = next(e for e in events["products"] if isinstance(e, Product))
    by_name = {s.name: s for s in LAKE_STREAMS}
    for stream, template, changes, version in (
        ("user_events", v2, INVALID_USER_EVENTS, 2),
        ("sensor_readings", sensor, INVALID_SENSOR_READINGS, 1),
        ("products", product, INVALID_PRODUCTS, 1),
    ):
        tag = len(dropped) + 1
        rows = invalid_rows(template, changes, tag)
        write_rows(
            lake, by_name[stream], version, days[2], rows, f"invalid+{stream}+v{version}.parquet"
        )
        dropped[stream].update(reason for _, reason in changes)
    expected.dropped = {stream: dict(reasons) for stream, reasons in dropped.items()}
    return expected


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in os.environ for the block (dbt's env_var reads the process environment)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in the process after an invocation (a
    class attribute, ``DuckDBConnectionManager._ENV``): otherwise this process could open the
    file again only with dbt's exact configuration, and not read-only."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env: Any = getattr(DuckDBConnectionManager, "_ENV", None)
        if env is not None:
            env.close()
        DuckDBConnectionManager.close_all_connections()  # type: ignore[no-untyped-call]


def run_dbt(
    args: Sequence[str],
    *,
    lake: Path,
    warehouse: Path,
    workdir: Path,
    vars: dict[str, Any] | None = None,
) -> dbtRunnerResult:
    """``dbt <args>`` in-process on the warehouse project, over ``lake``, into the DuckDB file
    ``warehouse``; dbt's target/ and logs/ go under ``workdir`` (parallel runs never share
    them). Raises if dbt fails (a failing data test included)."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    command = [
        *args,
        "--project-dir",
        str(WAREHOUSE_PROJECT),
        "--profiles-dir",
        str(WAREHOUSE_PROJECT),
        "--target-path",
        str(workdir / "target"),
        "--log-path",
        str(workdir / "logs"),
    ]
    if vars:
        command += ["--vars", json.dumps(vars)]
    env = {
        "POLYSTREAM_LAKE_PATH": str(lake),
        "POLYSTREAM_WAREHOUSE_PATH": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    with environment(env):
        try:
            result = dbtRunner().invoke(command)
        finally:
            release_duckdb()
    if not result.success:
        results = getattr(result.result, "results", None) or []
        failures = [
            f"{r.node.unique_id}: {r.status} {r.message}"
            for r in results
            if str(r.status) in ("error", "fail", "runtime error")
        ]
        raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception} {failures}")
    return result
