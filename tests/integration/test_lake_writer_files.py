"""The lake writer on real files, read back with DuckDB: layout, versions side by side, and
redeliveries, cut the same way or differently, that never leave a row twice nor lose one."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from polystream_lake import USER_EVENTS_LAKE, BatchFile, LakeWriter, open_lake, read_parquet_sql
from polystream_lake.files import write_atomically
from tests.integration.test_lake_fixtures import count_and_distinct, parquet_files, user_records


def writer(root: Path) -> LakeWriter:
    return LakeWriter(open_lake(root), USER_EVENTS_LAKE)


def test_a_batch_lands_per_stream_date_partition_and_version(tmp_path: Path) -> None:
    report = writer(tmp_path).write(user_records(range(0, 8)))
    assert report.rows == 8
    # offsets 0..7: even -> v1, odd -> v2; dates alternate (offset % 2): v1 on day one, v2 on two
    assert parquet_files(tmp_path) == [
        "stream=user_events/date=2026-11-30/user.events+0+00000000000000000000+00000000000000000006+v1.parquet",
        "stream=user_events/date=2026-12-01/user.events+0+00000000000000000001+00000000000000000007+v2.parquet",
    ]
    assert count_and_distinct(tmp_path, "user_events") == (8, 8)


def test_v1_and_v2_files_read_together_with_device_null_for_v1(tmp_path: Path) -> None:
    writer(tmp_path).write(user_records(range(0, 20), days=1))
    source = read_parquet_sql(open_lake(tmp_path), "user_events")
    with duckdb.connect() as db:
        rows = db.sql(
            f"select schema_version, count(*), count(device), any_value(stream),"
            f" min(date)::varchar from {source} group by 1 order by 1"
        ).fetchall()
    assert rows == [
        (1, 10, 0, "user_events", "2026-11-30"),
        (2, 10, 10, "user_events", "2026-11-30"),
    ]
    v1_file = next(tmp_path.rglob("*+v1.parquet"))
    assert "device" not in pq.read_schema(v1_file).names


def test_the_same_batch_redelivered_overwrites_its_own_files(tmp_path: Path) -> None:
    lake = writer(tmp_path)
    lake.write(user_records(range(0, 100)))
    before = parquet_files(tmp_path)
    lake.write(user_records(range(0, 100)))
    assert parquet_files(tmp_path) == before
    assert count_and_distinct(tmp_path, "user_events") == (100, 100)


def test_a_redelivery_cut_smaller_keeps_the_rest_of_the_original(tmp_path: Path) -> None:
    lake = writer(tmp_path)
    lake.write(user_records(range(0, 100), days=3))
    # after a crash the loop polls a smaller batch from the committed offset
    report = lake.write(user_records(range(0, 40), days=3))
    assert report.merged == 6  # three dates x two versions
    assert count_and_distinct(tmp_path, "user_events") == (100, 100)
    # and the next poll, cut elsewhere again
    lake.write(user_records(range(40, 150), days=3))
    assert count_and_distinct(tmp_path, "user_events") == (150, 150)
    assert len(parquet_files(tmp_path)) == 6
    assert_no_overlap(tmp_path)


def test_a_redelivery_cut_bigger_merges_the_files_it_spans(tmp_path: Path) -> None:
    lake = writer(tmp_path)
    for start in range(0, 100, 10):
        lake.write(user_records(range(start, start + 10), days=3))
    assert len(parquet_files(tmp_path)) == 10 * 6  # three dates x two versions per batch
    lake.write(user_records(range(25, 75), days=3))
    assert count_and_distinct(tmp_path, "user_events") == (100, 100)
    assert len(parquet_files(tmp_path)) < 60
    assert_no_overlap(tmp_path)


def assert_no_overlap(root: Path) -> None:
    """The writer's invariant: in a directory, no two files of one topic partition and version
    share an offset."""
    for directory in {p.parent for p in root.rglob("*.parquet")}:
        names = [BatchFile.parse(p.name) for p in directory.glob("*.parquet")]
        batches = [n for n in names if n is not None]
        for i, one in enumerate(batches):
            assert not any(one.overlaps(other) for other in batches[i + 1 :]), directory


def test_partitions_and_topics_never_merge(tmp_path: Path) -> None:
    lake = writer(tmp_path)
    lake.write(user_records(range(0, 30), partition=0))
    lake.write(user_records(range(0, 30), partition=1))
    lake.write(user_records(range(0, 30), partition=0, topic="t2.user.events"))
    rows = count_and_distinct(tmp_path, "user_events")
    assert rows == (90, 90)


def test_a_crash_between_write_and_delete_heals_on_redelivery(tmp_path: Path) -> None:
    location = open_lake(tmp_path)
    lake = writer(tmp_path)
    lake.write(user_records(range(0, 50), days=1))
    # what a crash leaves: the redelivered batch's new file written, the old one not yet deleted
    scratch = tmp_path / "scratch"
    LakeWriter(open_lake(scratch), USER_EVENTS_LAKE).write(user_records(range(0, 30), days=1))
    for path in scratch.rglob("*.parquet"):
        relative = path.relative_to(scratch)
        write_atomically(location, relative.parent.as_posix(), path.name, pq.read_table(path))
    shutil.rmtree(scratch)
    assert count_and_distinct(tmp_path, "user_events")[0] == 80  # doubled until redelivered
    # the restarted process redelivers the batch
    writer(tmp_path).write(user_records(range(0, 60), days=1))
    assert count_and_distinct(tmp_path, "user_events") == (60, 60)
    assert len(parquet_files(tmp_path)) == 2


def test_files_being_written_are_not_read(tmp_path: Path) -> None:
    lake = writer(tmp_path)
    lake.write(user_records(range(0, 10), days=1))
    directory = next(tmp_path.rglob("date=*"))
    (directory / ".user.events+0+1+2+v1.parquet.0123.tmp").write_bytes(b"half a file")
    assert count_and_distinct(tmp_path, "user_events") == (10, 10)
