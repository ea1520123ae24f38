"""The warehouse's dbt project as Dagster assets: one asset per model, seed and snapshot, dbt
tests as asset checks, the lake's streams (the compaction's assets) as the sources' keys.

The manifest is parsed at load time into the cache directory (``dbt parse``), never into the
project directory, so the project can be read-only in the image. dbt reads where the lake and the
warehouse are from ``POLYSTREAM_LAKE_PATH`` and ``POLYSTREAM_WAREHOUSE_PATH`` (the warehouse
project's contract), which :func:`export_dbt_env` sets from the settings.
"""

# No `from __future__ import annotations`: Dagster compares the context annotation itself.
import fcntl
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext  # by name: Dagster reads the annotation
from dagster_dbt import (
    DagsterDbtTranslator,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestrator.freshness import record_mart_builds
from orchestrator.lake import lake_asset_key
from orchestrator.retries import is_transient_dbt_failure, retry_policy
from orchestrator.settings import OrchestratorSettings
from polystream_lake.layout import open_lake
from polystream_lake.mirror import MirrorReport, mirror

log = logging.getLogger(__name__)

MARTS_SCHEMA = "marts"
WAREHOUSE_GROUP = "warehouse"


def lake_mirror_dir(settings: OrchestratorSettings) -> Path:
    """Where an object-store lake is mirrored for dbt (DuckDB reads S3 only through httpfs, an
    extension it would download at run time)."""
    return settings.dbt_cache_dir / "lake-mirror"


def export_dbt_env(settings: OrchestratorSettings) -> None:
    """Tell dbt (a subprocess that inherits this environment) where the lake and warehouse are:
    a local lake as its absolute path, an object store as its local mirror (see
    :func:`mirror_lake_for_dbt`)."""
    lake = open_lake(settings.lake)
    local = lake.root if lake.renames_atomically else lake_mirror_dir(settings).as_posix()
    os.environ["POLYSTREAM_LAKE_PATH"] = local
    os.environ["POLYSTREAM_WAREHOUSE_PATH"] = str(settings.warehouse_path)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)


def mirror_lake_for_dbt(settings: OrchestratorSettings) -> MirrorReport | None:
    """Before a build: bring an object-store lake's live files into the local mirror (new files
    copied once, files compacted away deleted). Nothing to do for a local lake."""
    lake = open_lake(settings.lake)
    if lake.renames_atomically:
        return None
    return mirror(lake, lake_mirror_dir(settings))


def dbt_executable() -> str:
    """dbt from this interpreter's environment, so a venv need not be on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


def prepared_project(settings: OrchestratorSettings) -> tuple[DbtProject, dict[str, Any]]:
    """The dbt project and its manifest, freshly parsed into ``dbt_cache_dir/manifest``.

    The daemon, the webserver's code server and each run's process all load the definitions:
    an exclusive lock on the cache keeps one from reading the manifest another is writing."""
    project = DbtProject(
        project_dir=settings.dbt_project_dir,
        profiles_dir=settings.dbt_project_dir,
        target_path=settings.dbt_cache_dir / "manifest",
    )
    settings.dbt_cache_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.dbt_cache_dir / "manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()
        manifest: dict[str, Any] = json.loads(project.manifest_path.read_text())
    return project, manifest


class WarehouseTranslator(DagsterDbtTranslator):
    """Models are keyed ``<schema>/<name>`` (``marts/fct_revenue``); a source table named after
    a lake stream is that stream's compaction asset (``lake/user_events``), so the lineage runs
    from the lake through staging to the marts. The marts carry Dagster 1.13's FreshnessPolicy
    (the daemon shows it in the UI) beside the freshness checks ``build`` evaluates in process."""

    def __init__(self, streams: tuple[str, ...], mart_max_age: timedelta) -> None:
        super().__init__()
        self._streams = streams
        self._mart_policy = dg.FreshnessPolicy.time_window(fail_window=mart_max_age)

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            if props["name"] in self._streams:
                return spec.replace_attributes(key=lake_asset_key(props["name"]))
            return spec
        spec = spec.replace_attributes(
            key=dg.AssetKey([props["schema"], props["name"]]), group_name=WAREHOUSE_GROUP
        )
        if props["resource_type"] == "model" and props["schema"] == MARTS_SCHEMA:
            return spec.replace_attributes(freshness_policy=self._mart_policy)
        return spec


def mart_models(manifest: Mapping[str, Any]) -> dict[str, str]:
    """unique_id -> name of every model materialised in the ``marts`` schema."""
    return {
        unique_id: node["name"]
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["schema"] == MARTS_SCHEMA
    }


def mart_asset_keys(manifest: Mapping[str, Any]) -> list[dg.AssetKey]:
    return [dg.AssetKey([MARTS_SCHEMA, name]) for name in sorted(mart_models(manifest).values())]


def _completed_at(result: Mapping[str, Any]) -> datetime:
    for timing in result.get("timing", []):
        if timing.get("name") == "execute" and timing.get("completed_at"):
            return datetime.fromisoformat(timing["completed_at"].replace("Z", "+00:00"))
    return datetime.now(UTC)


def built_marts(run_results: Mapping[str, Any], marts: Mapping[str, str]) -> dict[str, datetime]:
    """mart name -> when it finished building, for each mart this dbt run built successfully."""
    return {
        marts[r["unique_id"]]: _completed_at(r)
        for r in run_results.get("results", [])
        if r["unique_id"] in marts and r["status"] == "success"
    }


def failure_messages(run_results: Mapping[str, Any]) -> list[str]:
    return [
        f"{r['unique_id']}: {r.get('message') or r['status']}"
        for r in run_results.get("results", [])
        if r["status"] in ("error", "fail", "runtime error")
    ]


def warehouse_assets(
    settings: OrchestratorSettings, project: DbtProject, manifest: Mapping[str, Any]
) -> dg.AssetsDefinition:
    """``dbt build`` as one multi-asset: models, seeds and snapshots materialised, tests as
    checks; each mart's build time recorded in the warehouse for the freshness exporter."""
    marts = mart_models(manifest)
    runs_dir = settings.dbt_cache_dir / "runs"

    @dbt_assets(
        manifest=manifest,
        project=project,
        name="warehouse_dbt",
        dagster_dbt_translator=WarehouseTranslator(
            settings.streams, timedelta(seconds=settings.freshness.mart_max_age_s)
        ),
        retry_policy=retry_policy(settings.retry),
    )
    def warehouse_dbt(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        target = runs_dir / f"{context.run.run_id}-{context.retry_number}"
        mirrored = mirror_lake_for_dbt(settings)
        if mirrored is not None:
            context.log.info(f"lake mirrored for dbt: {mirrored}")
        invocation = dbt.cli(["build"], context=context, target_path=target, raise_on_error=False)
        yield from invocation.stream()
        try:
            run_results = invocation.get_artifact("run_results.json")
        except FileNotFoundError:  # dbt stopped before running a node (a parse error)
            run_results = {}
        # Recorded even when another node failed: these marts were rebuilt all the same.
        builds = built_marts(run_results, marts)
        record_mart_builds(settings.warehouse_path, builds, context.run.run_id)
        context.log.info(f"recorded the build of {len(builds)} marts")
        if invocation.is_successful():
            return
        messages = failure_messages(run_results) or [str(invocation.get_error())]
        if is_transient_dbt_failure(messages):
            raise RuntimeError("dbt build failed transiently: " + "; ".join(messages))
        raise dg.Failure(
            description="dbt build failed: " + "; ".join(messages), allow_retries=False
        )

    return warehouse_dbt


def dbt_resource(project: DbtProject) -> DbtCliResource:
    return DbtCliResource(project_dir=project, dbt_executable=dbt_executable())
