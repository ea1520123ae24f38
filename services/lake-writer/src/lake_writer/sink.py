"""The lake sink: each batch of one stream written to Parquet files by polystream_lake's writer.

Every batch is flushed in its own write (memory stays bounded by the loop's batch), and the
writer's rules make a redelivered batch harmless however it is cut (see
:mod:`polystream_lake.writer`). A tombstone of the products table deletes nothing: the lake keeps
every record it saw, and the warehouse decides what is current.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from lake_writer.metrics import (
    LAKE_FILES_MERGED,
    LAKE_FILES_WRITTEN,
    LAKE_ROWS_SKIPPED,
    LAKE_ROWS_WRITTEN,
)
from polystream_common.sink import (
    DeletingSink,
    Deletion,
    PartitionAwareSink,
    Rejection,
    SinkRecord,
    TopicPartitionId,
)
from polystream_lake import LakeLocation, LakeStream, LakeWriter

log = logging.getLogger(__name__)


class LakeSink(DeletingSink[Any], PartitionAwareSink[Any]):
    """Writes one lake stream. OSError (a filesystem or object store failing, a file a
    concurrent compaction removed) is transient: the loop retries the batch as a whole.

    The writer keeps no state but a cache of directory listings; it is dropped when partitions
    are assigned, since their previous owner may have written files meanwhile."""

    name = "lake"
    transient_errors = (*DeletingSink.transient_errors, OSError)

    def __init__(
        self, location: LakeLocation, stream: LakeStream, service: str = "lake-writer"
    ) -> None:
        self._writer = LakeWriter(location, stream)
        self._rows = LAKE_ROWS_WRITTEN.labels(service, stream.name)
        self._files = LAKE_FILES_WRITTEN.labels(service, stream.name)
        self._merged = LAKE_FILES_MERGED.labels(service, stream.name)
        self._skipped = LAKE_ROWS_SKIPPED.labels(service, stream.name)

    async def write(self, batch: Sequence[SinkRecord[Any]]) -> Sequence[Rejection[Any]]:
        if not batch:
            return []
        # pyarrow's writes release the GIL: off the event loop, the loop keeps polling.
        report = await asyncio.to_thread(self._writer.write, batch)
        self._rows.inc(report.rows)
        self._files.inc(len(report.files))
        self._merged.inc(report.merged)
        self._skipped.inc(report.skipped)
        return []

    async def on_assign(self, partitions: Sequence[TopicPartitionId]) -> None:
        self._writer.forget_listings()

    async def delete(self, deletions: Sequence[Deletion]) -> None:
        log.debug("tombstones kept out of the lake", extra={"count": len(deletions)})
