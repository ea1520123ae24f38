"""``dbt docs generate`` works offline over a built warehouse and documents every mart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .warehouse_seed import run_dbt


def test_docs_generate_writes_the_catalog(
    seeded_lake: Path, built_warehouse: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse" / "polystream.duckdb"
    warehouse.parent.mkdir()
    shutil.copyfile(built_warehouse, warehouse)  # the shared build stays untouched
    run_dbt(["docs", "generate"], lake=seeded_lake, warehouse=warehouse, workdir=tmp_path)
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    documented = {node["metadata"]["name"]: node for node in catalog["nodes"].values()}
    for mart in (
        "dim_date",
        "dim_users",
        "dim_products",
        "fct_daily_engagement",
        "fct_funnel",
        "fct_revenue",
        "fct_sensor_daily",
        "data_quality_report",
    ):
        assert documented[mart]["metadata"]["schema"] == "marts"
    assert {"event_id", "revenue", "unit_price"} <= documented["fct_revenue"]["columns"].keys()
    assert (tmp_path / "target" / "index.html").exists()
