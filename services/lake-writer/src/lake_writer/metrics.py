"""lake-writer's own metrics, beside the consumer loop's (polystream_common.metrics)."""

from __future__ import annotations

from prometheus_client import Counter

LAKE_ROWS_WRITTEN = Counter(
    "polystream_lake_rows_written_total",
    "Rows written to lake files, merged rows of a redelivery included.",
    ["service", "stream"],
)
LAKE_FILES_WRITTEN = Counter(
    "polystream_lake_files_written_total",
    "Parquet files written to the lake.",
    ["service", "stream"],
)
LAKE_FILES_MERGED = Counter(
    "polystream_lake_redelivery_merges_total",
    "Existing files a redelivered batch overlapped and merged into its own.",
    ["service", "stream"],
)
LAKE_ROWS_SKIPPED = Counter(
    "polystream_lake_rows_skipped_total",
    "Redelivered rows left out because a compacted file already holds them.",
    ["service", "stream"],
)
