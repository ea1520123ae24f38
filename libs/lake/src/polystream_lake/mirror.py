"""A local copy of an object-store lake, for the readers that need a local path.

The warehouse reads the lake with DuckDB's built-in Parquet reader, and DuckDB reads an object
store only through its httpfs extension, which is downloaded at run time (our machines cannot).
So before a build the orchestrator mirrors an ``s3://`` lake into a local directory and points
dbt at it. Only the live files are mirrored (a compacted file's inputs are left out), and a file
is copied once: names say what a file holds (topic, partition, offsets; a compacted file's
digest), so a name already present with the same size is the same file. Local files the lake no
longer has (compacted away, merged by a redelivery) are deleted, so the mirror never reads a row
twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from polystream_lake.layout import TEMP_SUFFIX, LakeLocation
from polystream_lake.reader import live_file_infos
from polystream_lake.streams import LAKE_STREAMS


@dataclass(frozen=True)
class MirrorReport:
    copied: int
    kept: int
    deleted: int


def mirror(location: LakeLocation, local: Path) -> MirrorReport:
    """Make ``local`` hold exactly the live files of the lake at ``location``."""
    wanted = {
        relative: int(info.size or 0)
        for stream in LAKE_STREAMS
        for relative, info in live_file_infos(location, stream.name)
    }
    local.mkdir(parents=True, exist_ok=True)
    present = {
        p.relative_to(local).as_posix(): p.stat().st_size
        for p in local.glob("stream=*/*/*.parquet")
    }
    copied = kept = 0
    for relative, size in sorted(wanted.items()):
        if present.get(relative) == size:
            kept += 1
            continue
        target = local / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{os.getpid()}{TEMP_SUFFIX}")
        pafs.copy_files(
            location.path(relative),
            temp.as_posix(),
            source_filesystem=location.filesystem,
            destination_filesystem=pafs.LocalFileSystem(),
        )
        temp.replace(target)  # atomic: a reader sees the old file or the whole new one
        copied += 1
    deleted = 0
    for relative in present.keys() - wanted.keys():
        (local / relative).unlink(missing_ok=True)
        deleted += 1
    return MirrorReport(copied=copied, kept=kept, deleted=deleted)
