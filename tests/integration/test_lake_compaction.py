"""Compaction on real files, read back with DuckDB: never a row lost nor doubled, settled files
only, and a crash between the compacted file's write and its inputs' deletes repaired."""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from polystream_lake import (
    SENSOR_READINGS_LAKE,
    USER_EVENTS_LAKE,
    LakeWriter,
    compact,
    live_files,
    open_lake,
)
from polystream_lake import compaction as compaction_module
from tests.integration.test_lake_fixtures import (
    count_and_distinct,
    parquet_files,
    sensor_records,
    user_records,
)

TODAY = date(2026, 12, 10)  # after every event date of the fixtures


def small_files(root: Path, batches: int = 10, size: int = 10, days: int = 3) -> LakeWriter:
    lake = LakeWriter(open_lake(root), USER_EVENTS_LAKE)
    for start in range(0, batches * size, size):
        lake.write(user_records(range(start, start + size), days=days))
    return lake


def test_compaction_leaves_one_file_per_directory_topic_and_version(tmp_path: Path) -> None:
    small_files(tmp_path)
    assert len(parquet_files(tmp_path)) == 60
    report = compact(open_lake(tmp_path), before=TODAY, min_age=timedelta(0))
    assert (report.directories, report.compactions, report.files_in, report.rows) == (3, 6, 60, 100)
    files = parquet_files(tmp_path)
    assert len(files) == 6 and all(
        f.split("/")[-1].startswith("compacted+user.events+v") for f in files
    )
    assert count_and_distinct(tmp_path, "user_events") == (100, 100)


def test_compaction_is_idempotent_and_merges_late_files(tmp_path: Path) -> None:
    lake = small_files(tmp_path)
    location = open_lake(tmp_path)
    compact(location, before=TODAY, min_age=timedelta(0))
    again = compact(location, before=TODAY, min_age=timedelta(0))
    assert again.compactions == 0
    # late records of an old date, then compaction again: one file per group still
    lake.write(user_records(range(100, 130), days=3))
    assert count_and_distinct(tmp_path, "user_events") == (130, 130)
    compact(location, before=TODAY, min_age=timedelta(0))
    assert len(parquet_files(tmp_path)) == 6
    assert count_and_distinct(tmp_path, "user_events") == (130, 130)


def test_only_settled_files_and_dates_are_compacted(tmp_path: Path) -> None:
    small_files(tmp_path)
    location = open_lake(tmp_path)
    # 2026-12-01 is "today": its directory is left alone
    report = compact(location, before=date(2026, 12, 1), min_age=timedelta(0))
    assert report.directories == 1
    assert all("compacted+" not in f for f in parquet_files(tmp_path) if "2026-12-0" in f)
    # files younger than min_age are left alone
    lake = LakeWriter(location, SENSOR_READINGS_LAKE)
    lake.write(sensor_records(range(0, 10)))
    lake.write(sensor_records(range(10, 20)))
    report = compact(
        location, before=TODAY, min_age=timedelta(hours=1), streams=[SENSOR_READINGS_LAKE]
    )
    assert report.compactions == 0
    for path in (tmp_path / "stream=sensor_readings").rglob("*.parquet"):
        old = time.time() - 7200
        os.utime(path, (old, old))
    report = compact(
        location, before=TODAY, min_age=timedelta(hours=1), streams=[SENSOR_READINGS_LAKE]
    )
    assert report.compactions == 1 and count_and_distinct(tmp_path, "sensor_readings") == (20, 20)


def test_a_crash_after_the_compacted_write_is_repaired_and_exact_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_files(tmp_path)
    location = open_lake(tmp_path)

    def crash(*_args: object) -> bool:
        raise KeyboardInterrupt("killed between the write and the deletes")

    with monkeypatch.context() as patch:
        patch.setattr(compaction_module, "delete_quietly", crash)
        with pytest.raises(KeyboardInterrupt):
            compact(location, before=TODAY, min_age=timedelta(0))
    # the first group's compacted file is in place beside all of its inputs
    assert any("compacted+" in f for f in parquet_files(tmp_path))
    assert count_and_distinct(tmp_path, "user_events")[0] > 100  # a plain glob sees them twice
    assert count_and_distinct(tmp_path, "user_events", exact=True) == (100, 100)
    assert len(live_files(location, "user_events")) < len(parquet_files(tmp_path))
    report = compact(location, before=TODAY, min_age=timedelta(0))
    assert report.recovered == 10
    assert count_and_distinct(tmp_path, "user_events") == (100, 100)
    assert len(parquet_files(tmp_path)) == 6


def test_a_crash_before_the_compacted_write_leaves_the_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_files(tmp_path)
    location = open_lake(tmp_path)

    def crash(_location: object, directory: str, name: str, *_args: object, **_kw: object) -> str:
        # killed mid-write: a partial temporary file is all there is
        (tmp_path / directory / f".{name}.dead.tmp").write_bytes(b"PAR1 partial")
        raise KeyboardInterrupt("killed while writing")

    with monkeypatch.context() as patch:
        patch.setattr(compaction_module, "write_atomically", crash)
        with pytest.raises(KeyboardInterrupt):
            compact(location, before=TODAY, min_age=timedelta(0))
    assert count_and_distinct(tmp_path, "user_events") == (100, 100)
    assert len(parquet_files(tmp_path)) == 60
    compact(location, before=TODAY, min_age=timedelta(0))
    assert count_and_distinct(tmp_path, "user_events") == (100, 100)
    assert len(parquet_files(tmp_path)) == 6


def test_a_stale_temporary_file_is_removed(tmp_path: Path) -> None:
    small_files(tmp_path, batches=1)
    directory = next(tmp_path.rglob("date=*"))
    stale = directory / ".x+0+1+2+v1.parquet.abcd.tmp"
    stale.write_bytes(b"a killed writer's leftover")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    report = compact(open_lake(tmp_path), before=TODAY, min_age=timedelta(hours=1))
    assert report.temporaries_removed == 1 and not stale.exists()


def test_a_redelivery_of_compacted_records_adds_nothing(tmp_path: Path) -> None:
    lake = small_files(tmp_path)
    compact(open_lake(tmp_path), before=TODAY, min_age=timedelta(0))
    # records compaction took in before their batch was checkpointed, redelivered after a
    # restart (or an assignment: lake-writer's sink forgets its listings then)
    lake.forget_listings()
    report = lake.write(user_records(range(40, 120), days=3))
    assert report.skipped == 60 and report.rows == 20
    assert count_and_distinct(tmp_path, "user_events") == (120, 120)


def test_a_writer_whose_listing_compaction_outdated_fails_transiently_then_is_exact(
    tmp_path: Path,
) -> None:
    lake = small_files(tmp_path)  # its listings name the batch files
    compact(open_lake(tmp_path), before=TODAY, min_age=timedelta(0))
    # a redelivery overlapping files compaction just removed: an OSError, retried by the loop
    with pytest.raises(FileNotFoundError):
        lake.write(user_records(range(40, 120), days=3))
    report = lake.write(user_records(range(40, 120), days=3))
    assert report.skipped == 60
    assert count_and_distinct(tmp_path, "user_events") == (120, 120)
