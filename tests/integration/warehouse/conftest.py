"""Fixtures of the warehouse tests, shared with the orchestrator's and the dashboard's: the seed
lake (``seeded_lake``), the warehouse dbt built over it (``built_warehouse``) and the figures its
marts must show (``expected_kpis``, ``expected_seed``). ``run_dbt`` (from warehouse_seed) runs
dbt in-process on a lake and a DuckDB file of the caller's. No server is involved: DuckDB and
files under pytest's tmp dirs only."""

from __future__ import annotations

from pathlib import Path

import pytest

from .warehouse_seed import Expected, run_dbt, write_seeded_lake

__all__ = ["run_dbt"]


@pytest.fixture(scope="session")
def _seed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected]:
    lake = tmp_path_factory.mktemp("seeded-lake")
    return lake, write_seeded_lake(lake)


@pytest.fixture(scope="session")
def seeded_lake(_seed: tuple[Path, Expected]) -> Path:
    """The seed lake (read it, never change it: copy it first)."""
    return _seed[0]


@pytest.fixture(scope="session")
def expected_seed(_seed: tuple[Path, Expected]) -> Expected:
    """What the warehouse built over ``seeded_lake`` must hold, computed in Python."""
    return _seed[1]


@pytest.fixture(scope="session")
def expected_kpis(expected_seed: Expected) -> dict[str, float]:
    """total_revenue, orders, active_users and conversion of the seed, computed in Python."""
    return expected_seed.kpis()


@pytest.fixture(scope="session")
def built_warehouse(seeded_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The DuckDB file after ``dbt build`` (models and every data test) over ``seeded_lake``;
    dq_report.json lies beside it. Read it, never change it."""
    workdir = tmp_path_factory.mktemp("built-warehouse")
    warehouse = workdir / "warehouse" / "polystream.duckdb"
    run_dbt(["build"], lake=seeded_lake, warehouse=warehouse, workdir=workdir)
    return warehouse
