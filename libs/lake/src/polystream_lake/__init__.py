"""The Parquet lake: its layout, schemas, exactly-once-in-effect writer and compaction, shared by
lake-writer (which writes it) and the orchestrator (which compacts it and builds the warehouse).

Start with :func:`open_lake`, :class:`LakeWriter`, :func:`compact` and :func:`read_parquet_sql`.
"""

from polystream_lake.compaction import CompactionReport, CompactionSettings, compact
from polystream_lake.layout import (
    BatchFile,
    CompactedFile,
    LakeLocation,
    LakeSettings,
    open_lake,
    partition_dir,
)
from polystream_lake.reader import live_files, read_parquet_sql
from polystream_lake.streams import (
    CHAT_MESSAGES_LAKE,
    LAKE_STREAMS,
    LAKE_STREAMS_BY_NAME,
    PRODUCTS_LAKE,
    SENSOR_READINGS_LAKE,
    USER_EVENTS_LAKE,
    LakeStream,
    arrow_schema,
)
from polystream_lake.writer import LakeWriter, WriteReport

__all__ = [
    "CHAT_MESSAGES_LAKE",
    "LAKE_STREAMS",
    "LAKE_STREAMS_BY_NAME",
    "PRODUCTS_LAKE",
    "SENSOR_READINGS_LAKE",
    "USER_EVENTS_LAKE",
    "BatchFile",
    "CompactedFile",
    "CompactionReport",
    "CompactionSettings",
    "LakeLocation",
    "LakeSettings",
    "LakeStream",
    "LakeWriter",
    "WriteReport",
    "arrow_schema",
    "compact",
    "live_files",
    "open_lake",
    "partition_dir",
    "read_parquet_sql",
]
