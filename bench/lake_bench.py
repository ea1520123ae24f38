"""The lake's benchmark, on the local filesystem (no servers): every figure a ratio to raw
pyarrow doing the same file work in the same run.

- writer: rows/s of ``LakeWriter.write`` (validated user events with their Kafka coordinates,
  grouped per date, partition and version, converted to Arrow, written atomically) in batches of
  the loop's default 5,000 over 6 partitions, vs ``pq.write_table`` of the same rows, already
  Arrow tables cut into the same files (the write ceiling: no conversion, no listing, no rename);
- redelivery: the same records redelivered cut differently (batches of 3,000), so every write
  merges the files it overlaps, as rows/s beside the first write's;
- compaction: rows/s of ``compact`` over the small files vs reading the same files, concatenating
  and writing one file per group with raw pyarrow (the ceiling: no dedupe, no footers listed).

``python bench/lake_bench.py [--records 100000] [--repeat 3]`` writes bench/results/lake.json (the
median run by the writer's ratio, every run's ratio beside it). Not a test: nothing asserts a
timing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from results_file import median_run, write_results

from polystream_common.schemas import UserEventV1, UserEventV2
from polystream_common.sink import SinkRecord
from polystream_lake import USER_EVENTS_LAKE, LakeWriter, compact, open_lake
from polystream_lake.streams import to_table

BATCH = 5_000
PARTITIONS = 6
TOPIC = "user.events"


def records(n: int) -> list[SinkRecord[Any]]:
    """``n`` user events in Kafka's order: round robin over the partitions, v1 and v2 mixed."""
    start = datetime(2026, 11, 30, tzinfo=UTC)
    out: list[SinkRecord[Any]] = []
    offsets = [0] * PARTITIONS
    for i in range(n):
        p = i % PARTITIONS
        common: dict[str, Any] = {
            "event_id": uuid.uuid4(),
            "event_time": start + timedelta(seconds=i % 80_000),
            "user_id": f"user-{i % 5000}",
            "session_id": f"session-{i % 20000}",
            "event_type": "purchase" if i % 20 == 0 else "view",
            "product_id": f"product-{i % 3000}",
            "price": 19.9 if i % 20 == 0 else None,
            "quantity": 1 if i % 20 == 0 else None,
        }
        v2 = (i // PARTITIONS) % 3 == 0
        event = UserEventV2(**common, device="android") if v2 else UserEventV1(**common)
        out.append(SinkRecord(event, TOPIC, p, offsets[p]))
        offsets[p] += 1
    return out


def raw_tables(batch: list[SinkRecord[Any]]) -> list[pa.Table]:
    """The Arrow tables of the files the writer makes of ``batch`` (built outside the timing)."""
    groups: dict[tuple[int, int], list[SinkRecord[Any]]] = defaultdict(list)
    for r in batch:
        groups[(r.partition, r.value.schema_version)].append(r)
    return [to_table(g, USER_EVENTS_LAKE.schema(v)) for (_, v), g in sorted(groups.items())]


def bench_once(n: int, workdir: Path) -> dict[str, Any]:
    """One run in a fresh directory under ``workdir`` (``make bench`` repeats this in one
    workdir, beside the other parts' files)."""
    data = records(n)
    batches = [data[i : i + BATCH] for i in range(0, n, BATCH)]
    workdir = Path(tempfile.mkdtemp(prefix="lake-bench-", dir=workdir))
    lake_dir, raw_dir = workdir / "lake", workdir / "raw"
    raw_dir.mkdir(parents=True)
    prepared = [raw_tables(b) for b in batches]

    started = time.perf_counter()
    for i, tables in enumerate(prepared):
        for j, table in enumerate(tables):
            pq.write_table(table, raw_dir / f"{i}-{j}.parquet", compression="zstd")
    raw_s = time.perf_counter() - started

    writer = LakeWriter(open_lake(lake_dir), USER_EVENTS_LAKE)
    started = time.perf_counter()
    files = 0
    for batch in batches:
        files += len(writer.write(batch).files)
    writer_s = time.perf_counter() - started

    redelivery = LakeWriter(open_lake(lake_dir), USER_EVENTS_LAKE)
    started = time.perf_counter()
    merged = 0
    for i in range(0, n, 3_000):
        merged += redelivery.write(data[i : i + 3_000]).merged
    redelivery_s = time.perf_counter() - started

    small = sorted(lake_dir.rglob("*.parquet"))
    started = time.perf_counter()
    groups: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for path in small:
        groups[(str(path.parent), path.name.rsplit("+", 1)[-1])].append(path)
    for k, (_, paths) in enumerate(sorted(groups.items())):
        table = pa.concat_tables([pq.read_table(p) for p in paths])
        pq.write_table(table, raw_dir / f"compacted-{k}.parquet", compression="zstd")
    raw_compact_s = time.perf_counter() - started

    started = time.perf_counter()
    report = compact(open_lake(lake_dir), before=date(2100, 1, 1), min_age=timedelta(0))
    compact_s = time.perf_counter() - started
    if report.rows != n:
        raise RuntimeError(f"compaction kept {report.rows} rows of {n}")

    writer_rate, raw_rate = n / writer_s, n / raw_s
    return {
        "records": n,
        "batch_records": BATCH,
        "files_per_batch": files / len(batches),
        "writer_rows_per_s": round(writer_rate),
        "raw_write_table_rows_per_s": round(raw_rate),
        "ratio": round(writer_rate / raw_rate, 3),
        "redelivery_rows_per_s": round(n / redelivery_s),
        "redelivery_files_merged": merged,
        "redelivery_vs_first_write": round((n / redelivery_s) / writer_rate, 3),
        "compaction_rows_per_s": round(n / compact_s),
        "raw_read_concat_write_rows_per_s": round(n / raw_compact_s),
        "compaction_ratio": round(raw_compact_s / compact_s, 3),
        "compaction_files_in": report.files_in,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="user events per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median ratio is kept")
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(bench_once(args.records, Path(tmp)))
    write_results("lake", {"lake_writer_vs_raw_write_table": median_run(runs)})


if __name__ == "__main__":
    main()
