"""The orchestrator's Dagster code location: ``defs``, loaded by ``dagster-daemon run`` and
``dagster-webserver`` with ``-m orchestrator.definitions`` and by ``python -m orchestrator``.

The asset graph: ``lake/<stream>`` (compaction) -> the dbt sources of those names -> staging ->
intermediate -> marts. Jobs: ``nightly`` (compaction, then ``dbt build`` with the dbt tests as
asset checks, and the lake's freshness checks) on the ``0 2 * * *`` UTC schedule;
``freshness`` (every freshness check) after it in ``python -m orchestrator build``; the lake's
checks every 15 minutes; the marts' freshness checks by Dagster's freshness sensor.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from orchestrator.lake import (
    CompactStream,
    compaction_assets,
    lake_compactor,
    lake_freshness_checks,
)
from orchestrator.settings import OrchestratorSettings
from orchestrator.warehouse import (
    dbt_resource,
    export_dbt_env,
    mart_asset_keys,
    prepared_project,
    warehouse_assets,
)

NIGHTLY_JOB = "nightly"
FRESHNESS_JOB = "freshness"
LAKE_FRESHNESS_JOB = "lake_freshness"
LAKE_FRESHNESS_CRON = "*/15 * * * *"


def build_definitions(
    settings: OrchestratorSettings, compact_stream: CompactStream | None = None
) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor, wired from ``settings``: the one place that
    picks the concrete adapters. Parses the dbt project (``dbt parse``, a few seconds)."""
    settings = settings.resolved()
    export_dbt_env(settings)
    project, manifest = prepared_project(settings)

    lake = compaction_assets(settings, compact_stream or lake_compactor(settings))
    warehouse = warehouse_assets(settings, project, manifest)
    lake_checks = lake_freshness_checks(settings)
    marts = mart_asset_keys(manifest)
    mart_checks = (
        list(
            dg.build_last_update_freshness_checks(
                assets=marts,
                lower_bound_delta=timedelta(seconds=settings.freshness.mart_max_age_s),
            )
        )
        if marts
        else []
    )
    freshness_checks = dg.AssetSelection.checks(lake_checks, *mart_checks)

    # The freshness checks stay out of the nightly run: the marts' read the last materialisation,
    # so they run after it (the freshness job), never beside the build they judge.
    nightly = dg.define_asset_job(
        NIGHTLY_JOB,
        selection=dg.AssetSelection.assets(lake, warehouse) - freshness_checks,
        description="Compact the lake, then dbt build (models, then their tests).",
    )
    freshness = dg.define_asset_job(
        FRESHNESS_JOB,
        selection=freshness_checks,
        description="Every freshness check: the lake's sources and the marts' last builds.",
    )
    lake_freshness = dg.define_asset_job(
        LAKE_FRESHNESS_JOB,
        selection=dg.AssetSelection.checks(lake_checks),
        description="The lake's freshness checks alone (cheap: the newest date's files).",
    )
    schedules = [
        dg.ScheduleDefinition(
            name="nightly_schedule",
            job=nightly,
            cron_schedule=settings.schedule_cron,
            execution_timezone=settings.schedule_timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
        ),
        dg.ScheduleDefinition(
            name="lake_freshness_schedule",
            job=lake_freshness,
            cron_schedule=LAKE_FRESHNESS_CRON,
            execution_timezone=settings.schedule_timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
        ),
    ]
    sensors = (
        [
            dg.build_sensor_for_freshness_checks(
                freshness_checks=mart_checks,
                default_status=dg.DefaultSensorStatus.RUNNING,
            )
        ]
        if mart_checks
        else []
    )
    return dg.Definitions(
        assets=[lake, warehouse],
        asset_checks=[lake_checks, *mart_checks],
        jobs=[nightly, freshness, lake_freshness],
        schedules=schedules,
        sensors=sensors,
        resources={"dbt": dbt_resource(project)},
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location Dagster's tools load: settings from ``ORCHESTRATOR_*``."""
    return build_definitions(OrchestratorSettings())
