"""Writing validated events into the lake, exactly once in effect.

The consumer loop delivers at least once: a batch written and then redelivered after a crash
comes again, and may come cut differently (a bigger or smaller poll, a bisected chunk). The
writer keeps this invariant, which is what makes every redelivery harmless:

    within one ``stream=/date=`` directory, for one topic partition and schema version, no two
    files hold the same Kafka offset.

A row is identified by its Kafka coordinates (topic, partition, offset): the same record always
has the same event, date and version, so it always lands in the same directory. For each
(stream, date, topic, partition, version) of a batch the writer:

1. takes the batch's rows, sorted by offset;
2. merges in every existing batch file of that topic partition and version whose offset range
   overlaps (repeated until no file overlaps the merged range): rows the batch also holds are
   dropped from the old file, the old file's other rows are kept (nothing is lost when a
   redelivery is cut smaller than the original);
3. drops the rows a compacted file of the directory already holds (a redelivery of records that
   compaction took in before their batch was checkpointed);
4. writes the result atomically under the name of its topic, partition, first and last offset and
   version (a redelivery cut the same way overwrites its own file with the same rows), then
   deletes the merged files.

A crash between 4's write and its deletes leaves two files holding some offsets twice, but only
offsets of a batch that was not checkpointed (the loop commits after the write), so the batch is
redelivered, and its write merges both files again into one. After the consumer catches up, the
lake holds each valid record once.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date
from functools import lru_cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from polystream_common.sink import SinkRecord
from polystream_lake.files import (
    delete_quietly,
    list_dir,
    read_table,
    unique_offsets,
    write_atomically,
)
from polystream_lake.layout import BatchFile, CompactedFile, LakeLocation, partition_dir
from polystream_lake.streams import LakeStream, to_table

log = logging.getLogger(__name__)

# A day's directory holds thousands of batch files until it is compacted, and every group a
# batch writes looks at all their names: a name is parsed once (names never change meaning).
_batch_file = lru_cache(maxsize=1 << 16)(BatchFile.parse)
_compacted_file = lru_cache(maxsize=1 << 16)(CompactedFile.parse)

LISTING_CACHE_DIRECTORIES = 256
HELD_CACHE_FILES = 64
"""Compacted files whose offsets stay in memory (a compacted file never changes under its name)."""


@dataclass
class WriteReport:
    """What one :meth:`LakeWriter.write` did."""

    rows: int = 0
    files: list[str] = field(default_factory=list)
    merged: int = 0
    """Existing files a redelivery overlapped, merged into a new one."""
    skipped: int = 0
    """Rows left out because a compacted file already holds them."""


class LakeWriter:
    """Writes batches of one lake stream; not thread-safe (one write at a time).

    Directory listings are cached (a listing of a day's directory costs a stat per file locally
    and a LIST request per thousand objects on S3), and kept current with what this writer
    writes and deletes. A listing is refreshed after ``listing_ttl_s``, after any failed write
    (a file compaction removed), and when :meth:`forget_listings` is called: the lake-writer does
    so when partitions are assigned, since their previous owner may have written files since.
    """

    def __init__(
        self, location: LakeLocation, stream: LakeStream, *, listing_ttl_s: float = 60.0
    ) -> None:
        self._location = location
        self._stream = stream
        self._listing_ttl_s = listing_ttl_s
        self._listings: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()
        self._held: OrderedDict[str, dict[int, pa.Array]] = OrderedDict()

    def forget_listings(self) -> None:
        """List every directory again at its next write."""
        self._listings.clear()

    def write(self, records: Sequence[SinkRecord[Any]]) -> WriteReport:
        """Write ``records`` (validated events of this stream and their Kafka coordinates)."""
        groups: dict[tuple[date, str, int, int], list[SinkRecord[Any]]] = defaultdict(list)
        for record in records:
            event = record.value
            day = event.event_time.astimezone(UTC).date()
            groups[(day, record.topic, record.partition, event.schema_version)].append(record)
        report = WriteReport()
        try:
            for (day, topic, partition, version), group in sorted(groups.items()):
                group.sort(key=lambda r: r.offset)
                self._write_group(
                    partition_dir(self._stream.name, day), topic, partition, version, group, report
                )
        except BaseException:
            self.forget_listings()
            raise
        return report

    def _files(self, directory: str) -> dict[str, str]:
        """Name -> path of the files in ``directory``, cached (see the class docstring)."""
        now = time.monotonic()
        cached = self._listings.get(directory)
        if cached is None or now - cached[0] > self._listing_ttl_s:
            infos = list_dir(self._location, directory)
            cached = (now, {info.base_name: info.path for info in infos})
            self._listings[directory] = cached
            while len(self._listings) > LISTING_CACHE_DIRECTORIES:
                self._listings.popitem(last=False)
        else:
            self._listings.move_to_end(directory)
        return cached[1]

    def _write_group(
        self,
        directory: str,
        topic: str,
        partition: int,
        version: int,
        group: list[SinkRecord[Any]],
        report: WriteReport,
    ) -> None:
        schema = self._stream.schema(version)
        table = to_table(group, schema)
        files = self._files(directory)
        batch_files = {name: parsed for name in files if (parsed := _batch_file(name)) is not None}
        first, last = group[0].offset, group[-1].offset
        merged: list[str] = []
        while True:
            span = BatchFile(topic, partition, first, last, version)
            more = [n for n, b in batch_files.items() if n not in merged and b.overlaps(span)]
            if not more:
                break
            merged.extend(more)
            for name in more:
                first = min(first, batch_files[name].first)
                last = max(last, batch_files[name].last)
        if merged:
            old = [read_table(self._location, files[name], schema) for name in merged]
            # The batch's rows first: where an old file holds the same offset, the new row wins.
            table = unique_offsets(pa.concat_tables([table, *old]))
            report.merged += len(merged)
        held = self._held_offsets(files, topic, partition, version)
        if held is not None and len(held):
            before = table.num_rows
            table = table.filter(pc.invert(pc.is_in(table["kafka_offset"], value_set=held)))
            report.skipped += before - table.num_rows
        written = None
        if table.num_rows:
            offsets = table["kafka_offset"]
            written = BatchFile(
                topic, partition, pc.min(offsets).as_py(), pc.max(offsets).as_py(), version
            ).name
            files[written] = write_atomically(self._location, directory, written, table)
            report.files.append(f"{directory}/{written}")
            report.rows += table.num_rows
        for name in merged:
            if name != written:
                delete_quietly(self._location, files.pop(name))
        if merged:
            log.info(
                "redelivered offsets merged",
                extra={"directory": directory, "merged": merged, "into": written},
            )

    def _held_offsets(
        self, files: dict[str, str], topic: str, partition: int, version: int
    ) -> pa.Array | None:
        """The offsets of ``topic``/``partition`` that compacted files of the directory hold."""
        arrays = []
        for name, path in files.items():
            compacted = _compacted_file(name)
            if compacted is None or (compacted.topic, compacted.version) != (topic, version):
                continue
            by_partition = self._held.get(path)
            if by_partition is None:
                by_partition = self._read_held(path)
                self._held[path] = by_partition
                while len(self._held) > HELD_CACHE_FILES:
                    self._held.popitem(last=False)
            else:
                self._held.move_to_end(path)
            if partition in by_partition:
                arrays.append(by_partition[partition])
        if not arrays:
            return None
        return pa.concat_arrays(arrays)

    def _read_held(self, path: str) -> dict[int, pa.Array]:
        coordinates = read_table(self._location, path, columns=["kafka_partition", "kafka_offset"])
        held: dict[int, pa.Array] = {}
        for value in pc.unique(coordinates["kafka_partition"]).to_pylist():
            mask = pc.equal(coordinates["kafka_partition"], value)
            held[int(value)] = coordinates.filter(mask)["kafka_offset"].combine_chunks()
        return held
