"""The stale-or-fresh decision, the dbt run results it reads the marts' build times from, and
the gauges serve-metrics exports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prometheus_client import REGISTRY

from orchestrator.freshness import (
    assess,
    mart_build_times,
    newest_event_time,
    newest_in_file,
    record_mart_builds,
)
from orchestrator.metrics import FreshnessExporter
from orchestrator.settings import FreshnessSettings, OrchestratorSettings
from orchestrator.warehouse import built_marts, failure_messages
from polystream_lake.layout import open_lake

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def test_a_source_older_than_its_threshold_is_stale() -> None:
    decision = assess("user_events", NOW - timedelta(hours=2), 3600, NOW)
    assert decision.stale
    assert decision.age_s == 7200


def test_a_source_within_its_threshold_is_fresh() -> None:
    decision = assess("user_events", NOW - timedelta(minutes=59), 3600, NOW)
    assert not decision.stale


def test_a_source_never_seen_is_stale() -> None:
    decision = assess("products", None, 3600, NOW)
    assert decision.stale
    assert decision.age_s is None


def test_an_event_ahead_of_the_clock_counts_as_fresh() -> None:
    decision = assess("sensor_readings", NOW + timedelta(seconds=5), 3600, NOW)
    assert decision.age_s == 0
    assert not decision.stale


def test_thresholds_are_per_stream_with_a_default() -> None:
    freshness = FreshnessSettings(lake_max_age_s={"products": 10.0}, lake_default_max_age_s=99.0)
    assert freshness.lake_threshold("products") == 10.0
    assert freshness.lake_threshold("user_events") == 99.0


def test_the_run_results_give_each_successful_mart_its_build_time() -> None:
    marts = {"model.w.fct_revenue": "fct_revenue", "model.w.dim_users": "dim_users"}
    run_results = {
        "results": [
            {
                "unique_id": "model.w.fct_revenue",
                "status": "success",
                "timing": [
                    {"name": "compile", "completed_at": "2026-12-02T02:00:01.000000Z"},
                    {"name": "execute", "completed_at": "2026-12-02T02:00:03.500000Z"},
                ],
            },
            {"unique_id": "model.w.dim_users", "status": "error", "message": "IO Error: x"},
            {"unique_id": "model.w.stg_user_events", "status": "success", "timing": []},
            {"unique_id": "test.w.unique_x", "status": "fail", "message": "Got 2 results"},
        ]
    }
    assert built_marts(run_results, marts) == {
        "fct_revenue": datetime(2026, 12, 2, 2, 0, 3, 500000, tzinfo=UTC)
    }
    assert failure_messages(run_results) == [
        "model.w.dim_users: IO Error: x",
        "test.w.unique_x: Got 2 results",
    ]


def test_build_times_round_trip_through_the_warehouse_file(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    assert mart_build_times(warehouse) == {}
    first = datetime(2026, 12, 1, 2, 0, 5, tzinfo=UTC)
    record_mart_builds(warehouse, {"fct_revenue": first, "dim_users": first}, "run-1")
    record_mart_builds(warehouse, {"fct_revenue": NOW}, "run-2")
    assert mart_build_times(warehouse) == {"fct_revenue": NOW, "dim_users": first}


def sample(name: str, labels: Mapping[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, dict(labels))


def test_the_exporter_publishes_timestamps_and_thresholds() -> None:
    settings = OrchestratorSettings(
        freshness=FreshnessSettings(lake_max_age_s={"user_events": 120.0}, mart_max_age_s=600.0),
        marts=("fct_revenue", "fct_funnel"),
    )
    newest = NOW - timedelta(minutes=5)
    exporter = FreshnessExporter(
        settings,
        read_lake=lambda: {"user_events": newest, "products": None},
        read_marts=lambda: {"fct_revenue": NOW},
    )
    exporter.refresh()

    lake = "polystream_lake_newest_event_timestamp_seconds"
    assert sample(lake, {"stream": "user_events"}) == newest.timestamp()
    assert sample(lake, {"stream": "products"}) == 0  # never: the alert fires
    threshold = "polystream_lake_freshness_threshold_seconds"
    assert sample(threshold, {"stream": "user_events"}) == 120.0
    built = "polystream_warehouse_mart_built_timestamp_seconds"
    assert sample(built, {"mart": "fct_revenue"}) == NOW.timestamp()
    assert sample(built, {"mart": "fct_funnel"}) == 0
    mart_threshold = "polystream_warehouse_mart_freshness_threshold_seconds"
    assert sample(mart_threshold, {"mart": "fct_revenue"}) == 600.0


def test_a_failed_read_keeps_the_last_values_and_counts_the_error() -> None:
    settings = OrchestratorSettings(marts=("fct_sensor_daily",))
    built = datetime(2026, 12, 1, 2, 1, tzinfo=UTC)
    reads: list[Mapping[str, datetime]] = [{"fct_sensor_daily": built}]

    def read_marts() -> Mapping[str, datetime]:
        if reads:
            return reads.pop()
        raise OSError('IO Error: Could not set lock on file "polystream.duckdb"')

    exporter = FreshnessExporter(settings, read_lake=dict, read_marts=read_marts)
    errors = "polystream_orchestrator_freshness_read_errors_total"
    before = sample(errors, {"source": "warehouse", "error": "OSError"}) or 0.0
    exporter.refresh()
    exporter.refresh()

    gauge = "polystream_warehouse_mart_built_timestamp_seconds"
    assert sample(gauge, {"mart": "fct_sensor_daily"}) == built.timestamp()
    assert sample(errors, {"source": "warehouse", "error": "OSError"}) == pytest.approx(before + 1)


def write_events(path: Path, times: list[datetime | None], **options: Any) -> None:
    column = pa.array(times, pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table({"event_time": column, "n": range(len(times))}), path, **options)


def test_the_newest_event_comes_from_the_footers_of_the_newest_date(tmp_path: Path) -> None:
    newest = NOW - timedelta(seconds=7)
    stream = tmp_path / "stream=user_events"
    older, newer = stream / "date=2026-12-01", stream / "date=2026-12-02"
    older.mkdir(parents=True)
    newer.mkdir(parents=True)
    write_events(older / "a.parquet", [NOW + timedelta(days=9)])  # an older date is not read
    # Three row groups: the maximum in the middle one, an all-null one last.
    write_events(newer / "a.parquet", [NOW - timedelta(hours=1), newest, None], row_group_size=1)
    write_events(newer / "b.parquet", [NOW - timedelta(minutes=1)])
    lake = open_lake(tmp_path)
    assert newest_event_time(lake, "user_events") == newest
    assert newest_event_time(lake, "chat_messages") is None


def test_a_row_group_without_statistics_is_read(tmp_path: Path) -> None:
    path = tmp_path / "nostats.parquet"
    write_events(path, [NOW - timedelta(hours=2), NOW - timedelta(hours=1)], write_statistics=False)
    assert newest_in_file(pq.ParquetFile(path)) == NOW - timedelta(hours=1)
    write_events(path, [None, None], write_statistics=False)
    assert newest_in_file(pq.ParquetFile(path)) is None
