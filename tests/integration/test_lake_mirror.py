"""The local mirror of a lake, which dbt reads when the lake is on an object store: exactly the
live files, each row once, copied once, and kept in step with compaction. (The mirror works on
any pyarrow filesystem; here the source is a local lake, as no S3 server runs on these
machines.)"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from polystream_lake import USER_EVENTS_LAKE, LakeWriter, compact, open_lake
from polystream_lake import compaction as compaction_module
from polystream_lake.mirror import mirror
from tests.integration.test_lake_fixtures import count_and_distinct, parquet_files, user_records

TODAY = date(2026, 12, 10)  # after every event date of the fixtures


def test_the_mirror_holds_each_row_once_and_follows_compaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, local = tmp_path / "lake", tmp_path / "mirror"
    writer = LakeWriter(open_lake(source), USER_EVENTS_LAKE)
    for start in range(0, 100, 10):
        writer.write(user_records(range(start, start + 10), days=3))
    files = len(parquet_files(source))

    first = mirror(open_lake(source), local)
    assert (first.copied, first.kept, first.deleted) == (files, 0, 0)
    assert parquet_files(local) == parquet_files(source)
    assert count_and_distinct(local, "user_events") == (100, 100)

    again = mirror(open_lake(source), local)
    assert (again.copied, again.kept, again.deleted) == (0, files, 0)

    # A compaction that crashed between its write and its deletes: the source holds the
    # compacted file beside its inputs; the mirror takes the live files only.
    def crash(*_args: object) -> bool:
        raise KeyboardInterrupt("killed between the write and the deletes")

    with monkeypatch.context() as patch:
        patch.setattr(compaction_module, "delete_quietly", crash)
        with pytest.raises(KeyboardInterrupt):
            compact(open_lake(source), before=TODAY, min_age=timedelta(0))
    assert count_and_distinct(source, "user_events")[0] > 100  # a plain glob reads rows twice
    mirror(open_lake(source), local)
    assert count_and_distinct(local, "user_events") == (100, 100)

    # The next compaction repairs that group and compacts the others: the mirror drops what
    # they replaced and copies the new compacted files.
    compact(open_lake(source), before=TODAY, min_age=timedelta(0))
    after = mirror(open_lake(source), local)
    assert after.deleted > 0
    assert parquet_files(local) == parquet_files(source)
    assert count_and_distinct(local, "user_events") == (100, 100)
    assert not list(local.rglob("*.tmp"))
