"""Freshness of the lake's sources and of the warehouse's marts: what is read, and when it is
stale.

A source's freshness is the event time of the newest event in the lake, per stream. The lake is
partitioned by the event's UTC date, so the newest event is in the newest ``date=`` directory
and only that one is read, and of its files only the footers: each row group's statistics hold
the maximum ``event_time``. A mart's freshness is the time of its last successful build, which
the dbt step records in the warehouse itself (:data:`BUILDS_TABLE`), so it travels with the file
the dashboard reads. The Dagster checks and the Prometheus exporter both decide with
:func:`assess`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from polystream_lake.layout import LakeLocation

log = logging.getLogger(__name__)

BUILDS_SCHEMA = "orchestrator"
BUILDS_TABLE = f"{BUILDS_SCHEMA}.mart_builds"


@dataclass(frozen=True)
class Freshness:
    """How old a source's newest event or a mart's last build is, against its threshold."""

    name: str
    last: datetime | None  # None: no event in the lake yet / never built
    age_s: float | None
    max_age_s: float

    @property
    def stale(self) -> bool:
        return self.age_s is None or self.age_s > self.max_age_s


def assess(name: str, last: datetime | None, max_age_s: float, now: datetime) -> Freshness:
    """Is ``last`` (an event time or a build time) older than ``max_age_s`` at ``now``? Never
    (``None``) counts as stale. A time ahead of ``now`` (a producer's clock) counts as age 0."""
    age = None if last is None else max(0.0, (now - last).total_seconds())
    return Freshness(name, last, age, max_age_s)


def newest_partition(lake: LakeLocation, stream: str) -> list[str]:
    """The Parquet files of ``stream``'s newest ``date=`` directory that has any ([] if none)."""
    selector = pafs.FileSelector(lake.path(f"stream={stream}"), allow_not_found=True)
    dates = sorted(
        (
            info.path
            for info in lake.filesystem.get_file_info(selector)
            if info.type == pafs.FileType.Directory and info.base_name.startswith("date=")
        ),
        reverse=True,
    )
    for date_dir in dates:
        files = [
            info.path
            for info in lake.filesystem.get_file_info(pafs.FileSelector(date_dir))
            if info.type == pafs.FileType.File and info.base_name.endswith(".parquet")
        ]
        if files:
            return sorted(files)
    return []


def newest_event_time(lake: LakeLocation, stream: str) -> datetime | None:
    """The event time of ``stream``'s newest event in the lake (None when it has none), from
    the newest date's files, on a local path or S3 alike."""
    newest = None
    for path in newest_partition(lake, stream):
        with lake.filesystem.open_input_file(path) as source:
            value = newest_in_file(pq.ParquetFile(source))
        if value is not None and (newest is None or value > newest):
            newest = value
    return None if newest is None else newest.astimezone(UTC)


def newest_in_file(parquet: pq.ParquetFile, column: str = "event_time") -> datetime | None:
    """The maximum of ``column`` in the file: from the footer's row-group statistics, reading a
    row group's column only where its statistics have no maximum (an all-null group has none
    and is skipped)."""
    meta = parquet.metadata
    index = meta.schema.names.index(column)
    newest = None
    for group in range(meta.num_row_groups):
        row_group = meta.row_group(group)
        stats = row_group.column(index).statistics
        if stats is not None and stats.has_min_max:
            value = stats.max
        elif stats is not None and stats.has_null_count and stats.null_count == row_group.num_rows:
            continue
        else:
            value = pc.max(parquet.read_row_group(group, columns=[column])[column]).as_py()
        if value is not None and (newest is None or value > newest):
            newest = value
    return newest


def newest_event_times(lake: LakeLocation, streams: Iterable[str]) -> dict[str, datetime | None]:
    return {stream: newest_event_time(lake, stream) for stream in streams}


def record_mart_builds(warehouse: Path, builds: Mapping[str, datetime], run_id: str) -> None:
    """Upsert each mart's build time into :data:`BUILDS_TABLE` of the warehouse file."""
    if not builds:
        return
    with duckdb.connect(str(warehouse)) as db:
        db.execute(f"create schema if not exists {BUILDS_SCHEMA}")
        db.execute(
            f"create table if not exists {BUILDS_TABLE} ("
            " mart varchar primary key, built_at_us bigint not null, run_id varchar not null)"
        )
        db.executemany(
            f"insert or replace into {BUILDS_TABLE} values (?, ?, ?)",
            [
                (mart, int(built_at.timestamp() * 1_000_000), run_id)
                for mart, built_at in builds.items()
            ],
        )


def mart_build_times(warehouse: Path) -> dict[str, datetime]:
    """Each mart's last successful build as recorded in the warehouse ({} before the first).

    Opens the file read-only for the one query: DuckDB lets no other process write while it is
    open, so a long-lived reader would fail the nightly build."""
    if not warehouse.exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as db:
        present = db.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = ? and table_name = 'mart_builds'",
            [BUILDS_SCHEMA],
        ).fetchone()
        if not present or not present[0]:
            return {}
        rows = db.execute(f"select mart, built_at_us from {BUILDS_TABLE}").fetchall()
    return {mart: datetime.fromtimestamp(us / 1_000_000, UTC) for mart, us in rows}
