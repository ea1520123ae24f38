"""One orchestrated run over the seed lake, in-process on Dagster (DAGSTER_HOME a tmp dir), as
the nightly schedule runs it: the compaction of a copy of the seed lake, then ``dbt build`` on
the warehouse project, then every freshness check. One run for the module: Dagster and dbt take
long to load, so each test reads what that run left."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from prometheus_client import REGISTRY

from orchestrator.build import BuildOutcome, run_build
from orchestrator.definitions import build_definitions
from orchestrator.metrics import FreshnessExporter
from orchestrator.settings import FreshnessSettings, OrchestratorSettings, RetrySettings
from polystream_lake import LAKE_STREAMS, CompactionSettings

from .warehouse_seed import WAREHOUSE_PROJECT, Expected

STREAMS = [s.name for s in LAKE_STREAMS]
MARTS = (
    "dim_date",
    "dim_users",
    "dim_products",
    "fct_daily_engagement",
    "fct_funnel",
    "fct_revenue",
    "fct_sensor_daily",
)


def lake_rows(lake: Path) -> dict[str, tuple[int, int]]:
    """Per stream: rows and distinct event_ids in every Parquet file of the lake."""
    with duckdb.connect() as db:
        return {
            stream: db.execute(
                "select count(*), count(distinct event_id) from read_parquet(?,"
                " hive_partitioning=true, union_by_name=true)",
                [str(lake / f"stream={stream}" / "*" / "*.parquet")],
            ).fetchone()  # type: ignore[misc]
            for stream in STREAMS
        }


@dataclass
class Run:
    settings: OrchestratorSettings
    lake: Path
    before: dict[str, tuple[int, int]]
    outcome: BuildOutcome
    started: datetime
    finished: datetime
    manifest: dict[str, object]
    defs: dg.Definitions


@pytest.fixture(scope="module")
def run(seeded_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    work = tmp_path_factory.mktemp("orchestrator-run")
    lake = work / "lake"
    shutil.copytree(seeded_lake, lake)  # the run compacts it: never the shared seed
    before = lake_rows(lake)
    settings = OrchestratorSettings(
        lake={"uri": str(lake)},
        warehouse_path=work / "warehouse" / "polystream.duckdb",
        dbt_project_dir=WAREHOUSE_PROJECT,
        dbt_cache_dir=work / "dbt",
        compaction=CompactionSettings(min_age_s=0),  # the seed's files were just written
        retry=RetrySettings(max_retries=1, delay_s=0.1),
        # The seed's events are days old: stale against an hour, fresh against ten years.
        freshness=FreshnessSettings(
            lake_max_age_s={"products": 3650 * 86400.0},
            lake_default_max_age_s=3600,
            mart_max_age_s=3600,
        ),
    )
    home = work / "dagster"
    home.mkdir()
    saved = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            defs = build_definitions(settings)
            started = datetime.now(UTC)
            outcome = run_build(defs, instance)
            finished = datetime.now(UTC)
    finally:
        if saved is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = saved
    manifest = json.loads((work / "dbt" / "manifest" / "manifest.json").read_text())
    yield Run(settings, lake, before, outcome, started, finished, manifest, defs)


def models(manifest: dict[str, object]) -> set[str]:
    nodes = manifest["nodes"]
    assert isinstance(nodes, dict)
    return {
        f"{node['schema']}/{node['name']}"
        for node in nodes.values()
        if node["resource_type"] in ("model", "seed", "snapshot")
    }


def test_the_code_location_loads_as_the_daemon_loads_it(run: Run) -> None:
    dg.Definitions.validate_loadable(run.defs)  # unique names, resolvable jobs and schedules
    schedule = run.defs.resolve_schedule_def("nightly_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "UTC")
    assert schedule.job_name == "nightly"


def test_the_run_succeeds_without_a_failed_step_or_test(run: Run) -> None:
    assert run.outcome.failed_steps == []
    assert run.outcome.checks_failed == []
    assert run.outcome.success


def test_compaction_and_every_dbt_asset_are_materialised(run: Run) -> None:
    materialized = set(run.outcome.materialized)
    assert {f"lake/{stream}" for stream in STREAMS} <= materialized
    assert {f"marts/{mart}" for mart in MARTS} <= models(run.manifest)
    assert models(run.manifest) <= materialized


def test_every_dbt_test_ran_as_a_passing_asset_check(run: Run) -> None:
    nodes = run.manifest["nodes"]
    assert isinstance(nodes, dict)
    tests = {
        node["name"]
        for node in nodes.values()
        if node["resource_type"] == "test" and node.get("attached_node")
    }
    passed = {name.split(":", 1)[1] for name in run.outcome.checks_passed}
    assert tests
    assert tests <= passed


def one(db: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = db.execute(sql).fetchone()
    assert row is not None
    return row


def test_the_marts_hold_the_seed(run: Run, expected_seed: Expected) -> None:
    with duckdb.connect(str(run.settings.warehouse_path), read_only=True) as db:
        revenue, orders = one(db, "select sum(revenue), count(*) from marts.fct_revenue")
        (funnel_days,) = one(db, "select count(*) from marts.fct_funnel")
        (users,) = one(db, "select count(*) from marts.dim_users")
        (days,) = one(db, "select count(distinct date_key) from marts.fct_daily_engagement")
    assert orders == len(expected_seed.purchases)
    assert revenue == pytest.approx(expected_seed.kpis()["total_revenue"], abs=1e-6)
    assert funnel_days == len(expected_seed.funnel_by_day())
    assert users == len(expected_seed.users())
    assert days == len({e.event_time.astimezone(UTC).date() for e in expected_seed.user_events})


def test_compaction_kept_every_row_once(run: Run) -> None:
    assert lake_rows(run.lake) == run.before
    compacted = list(run.lake.glob("stream=*/date=*/compacted+*.parquet"))
    assert compacted, "the run compacted nothing"


def test_the_freshness_checks_judge_the_lake_and_the_marts(run: Run) -> None:
    stale = {f"lake/{s}:newest_event_fresh" for s in STREAMS if s != "products"}
    assert set(run.outcome.warnings) == stale  # a warning: the run still succeeds
    assert "lake/products:newest_event_fresh" in run.outcome.checks_passed
    assert {f"marts/{mart}:freshness_check" for mart in MARTS} <= set(run.outcome.checks_passed)


def test_the_metrics_report_the_newest_events_and_the_build_times(
    run: Run, expected_seed: Expected
) -> None:
    FreshnessExporter.real(run.settings).refresh()
    for stream in STREAMS:
        newest = max(e.event_time for e in expected_seed.events[stream])
        value = REGISTRY.get_sample_value(
            "polystream_lake_newest_event_timestamp_seconds", {"stream": stream}
        )
        assert value == pytest.approx(newest.timestamp(), abs=1e-6)
    for mart in MARTS:
        built = REGISTRY.get_sample_value(
            "polystream_warehouse_mart_built_timestamp_seconds", {"mart": mart}
        )
        assert built is not None
        assert run.started.timestamp() <= built <= run.finished.timestamp()
