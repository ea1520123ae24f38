"""Reading, listing and writing the lake's Parquet files through pyarrow.fs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from uuid import uuid4

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from polystream_lake.layout import TEMP_SUFFIX, CompactedFile, LakeLocation

SUPERSEDES_KEY = b"polystream.supersedes"
"""Parquet metadata of a compacted file: the JSON list of the file names it replaces."""
COMPRESSION = "zstd"


def list_dir(location: LakeLocation, relative: str) -> list[pafs.FileInfo]:
    """The files (not directories) directly in ``relative``; none if it does not exist."""
    selector = pafs.FileSelector(location.path(relative), allow_not_found=True)
    return [i for i in location.filesystem.get_file_info(selector) if i.type == pafs.FileType.File]


def list_subdirs(location: LakeLocation, relative: str) -> list[str]:
    """The names of the directories directly in ``relative``."""
    selector = pafs.FileSelector(location.path(relative), allow_not_found=True)
    infos = location.filesystem.get_file_info(selector)
    return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)


def read_table(
    location: LakeLocation,
    path: str,
    schema: pa.Schema | None = None,
    columns: list[str] | None = None,
) -> pa.Table:
    """One file's rows (as ``schema``, when given; only ``columns``, when given)."""
    table = pq.read_table(path, filesystem=location.filesystem, columns=columns)
    if schema is None:
        return table
    return table.select(schema.names).cast(schema.remove_metadata())


def read_supersedes(location: LakeLocation, path: str) -> list[str]:
    """The names a compacted file replaces, from its footer (no row is read)."""
    with location.filesystem.open_input_file(path) as handle:
        metadata = pq.read_schema(handle).metadata or {}
    names: list[str] = json.loads(metadata.get(SUPERSEDES_KEY, b"[]"))
    return names


def superseded_names(location: LakeLocation, files: Iterable[pafs.FileInfo]) -> set[str]:
    """The names of ``files`` (one directory's listing) that its compacted files replace."""
    superseded: set[str] = set()
    for info in files:
        if CompactedFile.parse(info.base_name) is not None:
            superseded.update(read_supersedes(location, info.path))
    return superseded


def write_atomically(
    location: LakeLocation,
    relative_dir: str,
    name: str,
    table: pa.Table,
    supersedes: list[str] | None = None,
) -> str:
    """Write ``table`` as ``relative_dir/name`` so that a reader sees the whole old file (or
    none) or the whole new one, never a part: a temporary name then a rename on a local
    filesystem; one PUT of the whole object on an object store. Returns the path."""
    filesystem = location.filesystem
    directory = location.path(relative_dir)
    final = f"{directory}/{name}"
    if supersedes is not None:
        metadata = dict(table.schema.metadata or {})
        metadata[SUPERSEDES_KEY] = json.dumps(sorted(supersedes)).encode()
        table = table.replace_schema_metadata(metadata)
    if not location.renames_atomically:
        pq.write_table(table, final, filesystem=filesystem, compression=COMPRESSION)
        return final
    filesystem.create_dir(directory, recursive=True)
    temporary = f"{directory}/.{name}.{uuid4().hex}{TEMP_SUFFIX}"
    try:
        pq.write_table(table, temporary, filesystem=filesystem, compression=COMPRESSION)
        filesystem.move(temporary, final)
    except BaseException:
        delete_quietly(location, temporary)
        raise
    return final


def delete_quietly(location: LakeLocation, path: str) -> bool:
    """Delete ``path``; False if it was already gone (a crashed run's cleanup may race ours)."""
    try:
        location.filesystem.delete_file(path)
    except FileNotFoundError:
        return False
    return True


def unique_offsets(table: pa.Table, by: tuple[str, ...] = ("kafka_offset",)) -> pa.Table:
    """``table`` sorted by ``by``, keeping the first row (in table order) of each key."""
    if table.num_rows < 2:
        return table
    order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in by])
    ordered = table.take(order)
    differs: pa.Array | None = None
    for column in by:
        values = ordered[column].combine_chunks()
        changed = pc.not_equal(values.slice(1), values.slice(0, len(values) - 1))
        differs = changed if differs is None else pc.or_(differs, changed)
    assert differs is not None
    keep = pa.concat_arrays([pa.array([True]), differs])
    return ordered.filter(keep)
