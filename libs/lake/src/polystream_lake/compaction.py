"""Compaction: the small batch files of a ``stream=/date=`` directory merged into one file.

Per directory, topic and schema version, the settled batch files (and an earlier compacted file,
if any) are read, deduplicated by (partition, offset), and written as one
``compacted+<topic>+v<version>+<digest>.parquet`` whose footer lists the names it replaces; then
those files are deleted. The write is the commit point:

- a crash before it leaves the inputs as they were (and perhaps a ``.tmp`` file, which no reader
  globs and a later compaction removes);
- a crash after it leaves some inputs beside the compacted file that holds their rows. The next
  compaction of the directory (the orchestrator runs one before every dbt build) first deletes
  every file a compacted file lists, and :func:`polystream_lake.reader.live_files` leaves them
  out meanwhile. A plain glob over the lake reads them twice only in that window, after a crash.

A row is never lost (the inputs go only once the compacted file holding them is in place) nor
doubled in the compacted file (deduplicated by offset). Compaction takes only *settled* files:
directories of dates before ``before`` and files older than ``min_age``, so the lake-writer is
done with them; should a redelivery still bring their records later, the writer skips the rows a
compacted file holds (see writer.py).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.fs as pafs
from pydantic import BaseModel, Field

from polystream_lake.files import (
    delete_quietly,
    list_dir,
    list_subdirs,
    read_table,
    superseded_names,
    unique_offsets,
    write_atomically,
)
from polystream_lake.layout import (
    TEMP_SUFFIX,
    BatchFile,
    CompactedFile,
    LakeLocation,
)
from polystream_lake.streams import LAKE_STREAMS, LakeStream

log = logging.getLogger(__name__)


class CompactionSettings(BaseModel):
    """Which files a compaction takes, the same for lake-writer's ``compact`` command
    (``LAKE_WRITER_COMPACTION__*``) and the orchestrator's nightly step
    (``ORCHESTRATOR_COMPACTION__*``): the directories of dates at least ``min_days_old`` days
    before today (UTC), and in them the files last written ``min_age_s`` ago or more (settled:
    the lake-writer is done with them)."""

    min_days_old: int = Field(
        default=1, ge=0, description="1: every date before today; 0: today's too (a one-off run)"
    )
    min_age_s: float = Field(default=1800.0, ge=0)

    def before(self, today: date) -> date:
        """:func:`compact`'s ``before``: the first date left alone."""
        return today - timedelta(days=self.min_days_old - 1)

    @property
    def min_age(self) -> timedelta:
        return timedelta(seconds=self.min_age_s)


@dataclass
class CompactionReport:
    """What :func:`compact` did, summed over the directories it visited."""

    directories: int = 0
    compactions: int = 0
    files_in: int = 0
    rows: int = 0
    recovered: int = 0
    """Inputs of an earlier, interrupted compaction deleted now."""
    temporaries_removed: int = 0
    written: list[str] = field(default_factory=list)


def compact(
    location: LakeLocation,
    *,
    before: date,
    min_age: timedelta = timedelta(minutes=30),
    streams: Iterable[LakeStream] = LAKE_STREAMS,
    now: float | None = None,
) -> CompactionReport:
    """Compact every directory of ``streams`` whose date is before ``before``, taking the batch
    files last modified at least ``min_age`` ago; idempotent (a second run finds nothing to do)."""
    report = CompactionReport()
    settled_before = (time.time() if now is None else now) - min_age.total_seconds()
    for stream in streams:
        for subdir in list_subdirs(location, f"stream={stream.name}"):
            try:
                day = date.fromisoformat(subdir.removeprefix("date="))
            except ValueError:
                continue
            if not subdir.startswith("date=") or day >= before:
                continue
            report.directories += 1
            compact_directory(
                location, stream, f"stream={stream.name}/{subdir}", settled_before, report
            )
    return report


def compact_directory(
    location: LakeLocation,
    stream: LakeStream,
    directory: str,
    settled_before: float,
    report: CompactionReport,
) -> None:
    """Finish what an interrupted compaction left, then compact each topic and version."""
    files = recover_directory(location, directory, settled_before, report)
    groups: dict[tuple[str, int], list[pafs.FileInfo]] = defaultdict(list)
    compacted: dict[tuple[str, int], list[pafs.FileInfo]] = defaultdict(list)
    for info in files:
        batch = BatchFile.parse(info.base_name)
        if batch is not None:
            if _mtime(info) <= settled_before:
                groups[(batch.topic, batch.version)].append(info)
            continue
        done = CompactedFile.parse(info.base_name)
        if done is not None:
            compacted[(done.topic, done.version)].append(info)
    for (topic, version), batch_files in sorted(groups.items()):
        inputs = batch_files + compacted[(topic, version)]
        if len(inputs) < 2:
            continue
        schema = stream.schema(version)
        tables = [read_table(location, info.path, schema) for info in inputs]
        table = unique_offsets(pa.concat_tables(tables), ("kafka_partition", "kafka_offset"))
        names = [info.base_name for info in inputs]
        target = CompactedFile.replacing(topic, version, names)
        write_atomically(location, directory, target.name, table, supersedes=names)
        for info in inputs:
            delete_quietly(location, info.path)
        report.compactions += 1
        report.files_in += len(inputs)
        report.rows += table.num_rows
        report.written.append(f"{directory}/{target.name}")
        log.info(
            "compacted",
            extra={
                "directory": directory,
                "files": len(inputs),
                "rows": table.num_rows,
                "into": target.name,
            },
        )


def recover_directory(
    location: LakeLocation, directory: str, settled_before: float, report: CompactionReport
) -> list[pafs.FileInfo]:
    """Delete what every compacted file of ``directory`` replaced, and stale temporary files;
    returns the files left."""
    files = list_dir(location, directory)
    superseded = superseded_names(location, files)
    left = []
    for info in files:
        if info.base_name in superseded:
            if delete_quietly(location, info.path):
                report.recovered += 1
        elif info.base_name.endswith(TEMP_SUFFIX):
            if _mtime(info) <= settled_before and delete_quietly(location, info.path):
                report.temporaries_removed += 1
        else:
            left.append(info)
    return left


def _mtime(info: pafs.FileInfo) -> float:
    return info.mtime.timestamp() if info.mtime is not None else 0.0
