"""What the dbt project promises besides its marts: the lists it checks values against are the
wire schemas', an attempted extension download fails instead of hanging, and a first build on an
empty lake (a fresh stack) works and reports nothing read."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import yaml

from polystream_common.schemas import DEVICES, SENSOR_TYPES, USER_EVENT_TYPES

from .warehouse_seed import WAREHOUSE_PROJECT, run_dbt


def test_checked_values_mirror_the_wire_schemas() -> None:
    project = yaml.safe_load((WAREHOUSE_PROJECT / "dbt_project.yml").read_text())
    assert project["vars"]["user_event_types"] == list(USER_EVENT_TYPES)
    assert project["vars"]["devices"] == list(DEVICES)
    assert project["vars"]["sensor_types"] == list(SENSOR_TYPES)


def test_extensions_are_never_downloaded() -> None:
    profile = yaml.safe_load((WAREHOUSE_PROJECT / "profiles.yml").read_text())
    settings = profile["polystream"]["outputs"]["local"]["settings"]
    assert settings["autoinstall_known_extensions"] is False
    assert settings["autoload_known_extensions"] is False


def test_a_build_on_an_empty_lake_works(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    warehouse = tmp_path / "warehouse" / "polystream.duckdb"
    run_dbt(["build"], lake=lake, warehouse=warehouse, workdir=tmp_path)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        for mart in ("fct_revenue", "fct_funnel", "dim_users", "dim_date", "fct_sensor_daily"):
            assert conn.execute(f"select count(*) from marts.{mart}").fetchall() == [(0,)]
        report = conn.execute(
            "select stream, rows_read, rows_dropped from marts.data_quality_report order by 1"
        ).fetchall()
    assert report == [
        (s, 0, 0) for s in ("chat_messages", "products", "sensor_readings", "user_events")
    ]
    written = json.loads((warehouse.parent / "dq_report.json").read_text())
    assert {s: r["rows_read"] for s, r in written["streams"].items()} == dict.fromkeys(
        ("chat_messages", "products", "sensor_readings", "user_events"), 0
    )
