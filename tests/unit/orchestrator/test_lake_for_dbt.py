"""Where dbt reads the lake: a local lake in place; an object-store lake from its local mirror
(DuckDB reads S3 only through httpfs, which it would download at run time)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.settings import OrchestratorSettings
from orchestrator.warehouse import export_dbt_env, lake_mirror_dir, mirror_lake_for_dbt
from polystream_lake import LakeSettings


def test_a_local_lake_is_read_in_place(tmp_path: Path) -> None:
    settings = OrchestratorSettings(
        lake=LakeSettings(uri=str(tmp_path / "lake")),
        warehouse_path=tmp_path / "wh" / "w.duckdb",
        dbt_cache_dir=tmp_path / "cache",
    )
    export_dbt_env(settings)
    assert Path(os.environ["POLYSTREAM_LAKE_PATH"]) == (tmp_path / "lake").resolve()
    assert mirror_lake_for_dbt(settings) is None
    assert (tmp_path / "wh").is_dir()


def test_an_object_store_lake_is_read_from_its_mirror(tmp_path: Path) -> None:
    settings = OrchestratorSettings(
        lake=LakeSettings(uri="s3://lake/polystream", s3_endpoint="127.0.0.1:1", s3_scheme="http"),
        warehouse_path=tmp_path / "w.duckdb",
        dbt_cache_dir=tmp_path / "cache",
    )
    export_dbt_env(settings)  # builds the S3 filesystem; connects nothing
    assert os.environ["POLYSTREAM_LAKE_PATH"] == lake_mirror_dir(settings).as_posix()
    assert lake_mirror_dir(settings).is_relative_to(tmp_path / "cache")


@pytest.fixture(autouse=True)
def _restore_dbt_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """export_dbt_env writes os.environ: recorded here so that teardown restores it."""
    for name in ("POLYSTREAM_LAKE_PATH", "POLYSTREAM_WAREHOUSE_PATH"):
        monkeypatch.setenv(name, "")
