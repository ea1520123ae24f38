"""How to read the lake: the DuckDB expression of a stream, over a glob or an exact file list.

``read_parquet('<root>/stream=<stream>/*/*.parquet', hive_partitioning=true,
union_by_name=true)`` reads every file of a stream; ``stream`` and ``date`` come from the path,
and a column a file lacks (``device`` in a v1 user events file) reads as null. It is exact
whenever no compaction was interrupted between its write and its deletes; :func:`live_files`
(and :func:`read_parquet_sql` with ``exact=True``) also leave out the files a compacted file
replaced, so they are exact even then.
"""

from __future__ import annotations

import pyarrow.fs as pafs

from polystream_lake.files import list_dir, list_subdirs, superseded_names
from polystream_lake.layout import LakeLocation


def read_parquet_sql(location: LakeLocation, stream: str, *, exact: bool = False) -> str:
    """The DuckDB table expression of one stream of the lake."""
    if exact:
        files = live_files(location, stream)
        source = "[" + ", ".join(_quote(f) for f in files) + "]"
    else:
        source = _quote(location.stream_glob(stream))
    return f"read_parquet({source}, hive_partitioning=true, union_by_name=true)"


def live_file_infos(location: LakeLocation, stream: str) -> list[tuple[str, pafs.FileInfo]]:
    """Every Parquet file of ``stream`` less those a compacted file replaced, each with its path
    relative to the lake's root (``stream=<s>/date=<d>/<name>``)."""
    live: list[tuple[str, pafs.FileInfo]] = []
    base = f"stream={stream}"
    for subdir in list_subdirs(location, base):
        files = [
            f for f in list_dir(location, f"{base}/{subdir}") if f.base_name.endswith(".parquet")
        ]
        superseded = superseded_names(location, files)
        live.extend(
            (f"{base}/{subdir}/{f.base_name}", f) for f in files if f.base_name not in superseded
        )
    return live


def live_files(location: LakeLocation, stream: str) -> list[str]:
    """Every Parquet file of ``stream``, less those a compacted file replaced."""
    live = [info.path for _, info in live_file_infos(location, stream)]
    if not location.renames_atomically:
        prefix = location.uri.split("://", 1)[0] + "://"
        live = [prefix + p for p in live]
    return sorted(live)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
