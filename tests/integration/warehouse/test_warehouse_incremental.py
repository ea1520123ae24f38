"""An incremental ``dbt build`` after a new date partition lands: it adds exactly that day's
rows, re-reads only the lookback window (the two newest days loaded: lookback_days = 1), and its
marts then hold the seed's figures for every day.

"Not rescanned" is shown by rows, not timings: a file put into the oldest partition before the
second run (valid rows, fresh event_ids) is left unread by it, and the oldest day's rows keep the
first run's invocation id."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from .warehouse_seed import Expected, day_of, run_dbt

STREAMS = ("sensor_readings", "user_events", "chat_messages", "products")


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def plant_late_file(lake: Path, day: date) -> Path:
    """A file of valid user events (fresh event_ids) in ``day``'s partition."""
    directory = lake / "stream=user_events" / f"date={day.isoformat()}"
    source = sorted(directory.glob("user.events+*.parquet"))[0]
    table = pq.read_table(source)
    ids = [f"00000000-0000-4000-8000-9{n:011d}" for n in range(table.num_rows)]
    table = table.set_column(table.schema.get_field_index("event_id"), "event_id", [ids])
    late = directory / "user.events+late+v0.parquet"
    pq.write_table(table, late)
    return late


def test_a_new_day_adds_its_rows_and_rereads_only_the_lookback(
    seeded_lake: Path, expected_seed: Expected, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(seeded_lake, lake)
    days = expected_seed.days()
    new_day, held = days[-1], tmp_path / "held"
    for stream in STREAMS:
        partition = lake / f"stream={stream}" / f"date={new_day.isoformat()}"
        if partition.exists():
            shutil.move(partition, held / stream)
    warehouse = tmp_path / "warehouse" / "polystream.duckdb"
    run_dbt(["build"], lake=lake, warehouse=warehouse, workdir=tmp_path / "first")
    (first_run,) = query(warehouse, "select distinct loaded_by from staging.base_user_events")[0]
    assert query(warehouse, "select max(date_key) from staging.stg_user_events") == [(days[-2],)]

    for stream in STREAMS:
        if (held / stream).exists():
            shutil.move(held / stream, lake / f"stream={stream}" / f"date={new_day.isoformat()}")
    late = plant_late_file(lake, days[0])
    run_dbt(["build"], lake=lake, warehouse=warehouse, workdir=tmp_path / "second")

    per_day = dict(
        query(warehouse, "select date_key, count(*) from staging.stg_user_events group by 1")
    )
    want = {day: sum(day_of(e) == day for e in expected_seed.user_events) for day in days}
    assert per_day == want  # the new day's rows are in, the late file's are not
    assert query(
        warehouse, f"select count(*) from staging.base_user_events where source_file = '{late}'"
    ) == [(0,)]
    (readable,) = query(warehouse, f"select count(*) from read_parquet('{late}')")[0]
    assert readable > 0  # left out by the partition filter, not unreadable

    loaded_by = dict(
        query(
            warehouse,
            "select date_key, any_value(loaded_by) from staging.base_user_events group by 1",
        )
    )
    assert loaded_by[days[0]] == first_run
    assert loaded_by[new_day] != first_run and loaded_by[days[-2]] == loaded_by[new_day]

    revenue = dict(
        query(warehouse, "select date_key, sum(revenue) from marts.fct_revenue group by 1")
    )
    for day, amount in expected_seed.revenue_by_day().items():
        assert revenue[day] == pytest.approx(amount, abs=1e-6)
    funnel = {
        day: (viewed, carted, purchased)
        for day, viewed, carted, purchased in query(
            warehouse,
            "select date_key, viewed_sessions, carted_sessions, purchased_sessions "
            "from marts.fct_funnel",
        )
    }
    assert funnel == expected_seed.funnel_by_day()
    readings = dict(
        query(warehouse, "select date_key, sum(readings) from marts.fct_sensor_daily group by 1")
    )
    assert readings[new_day] == sum(
        day_of(e) == new_day for e in expected_seed.events["sensor_readings"]
    )
    report = dict(
        query(
            warehouse,
            "select reason, rows_dropped from marts.data_quality_report "
            "where stream = 'user_events'",
        )
    )
    assert report == expected_seed.dropped["user_events"]
