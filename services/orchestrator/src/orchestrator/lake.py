"""The lake's streams as Dagster assets: the nightly compaction materialises them, and a check
per stream says whether its newest event is fresh.

Each stream's asset key (``lake/<stream>``) is also the key of the dbt source of that name (see
:class:`orchestrator.warehouse.WarehouseTranslator`), so the staging models are downstream of
the compaction and a run compacts before ``dbt build`` reads.
"""

# No `from __future__ import annotations`: Dagster compares the context annotation itself.
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster import (  # by name: Dagster reads the annotation
    AssetCheckExecutionContext,
    AssetExecutionContext,
)

from orchestrator.freshness import assess, newest_event_time
from orchestrator.retries import retry_policy
from orchestrator.settings import OrchestratorSettings
from polystream_lake.compaction import CompactionReport, compact
from polystream_lake.layout import LakeLocation, open_lake
from polystream_lake.streams import LAKE_STREAMS_BY_NAME

LAKE_GROUP = "lake"
LAKE_FRESHNESS_CHECK = "newest_event_fresh"

CompactStream = Callable[[LakeLocation, str], CompactionReport]
"""Compact one stream's settled files (the port the compaction asset calls)."""


def lake_asset_key(stream: str) -> dg.AssetKey:
    return dg.AssetKey([LAKE_GROUP, stream])


def lake_compactor(settings: OrchestratorSettings) -> CompactStream:
    """polystream_lake's compaction of the settled files (``settings.compaction``: by default
    the dates before today, UTC, files untouched for 30 minutes): the lake-writer may still be
    appending to today's directory."""

    def compact_stream(lake: LakeLocation, stream: str) -> CompactionReport:
        return compact(
            lake,
            before=settings.compaction.before(datetime.now(UTC).date()),
            min_age=settings.compaction.min_age,
            streams=[LAKE_STREAMS_BY_NAME[stream]],
        )

    return compact_stream


def compaction_assets(
    settings: OrchestratorSettings, compact_stream: CompactStream
) -> dg.AssetsDefinition:
    """One asset per lake stream, all materialised by one step (retried as a whole: compaction
    is idempotent, a stream done already finds nothing left to do)."""
    specs = [
        dg.AssetSpec(
            lake_asset_key(stream),
            group_name=LAKE_GROUP,
            description=f"The lake's {stream} stream (Parquet, stream=/date= partitioned),"
            " its settled batch files compacted.",
            kinds={"parquet"},
        )
        for stream in settings.streams
    ]

    @dg.multi_asset(
        name="lake_compaction",
        specs=specs,
        can_subset=True,
        retry_policy=retry_policy(settings.retry),
    )
    def lake_compaction(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult[Any]]:
        lake = open_lake(settings.lake)
        for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
            stream = key.path[-1]
            report = compact_stream(lake, stream)
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "directories": report.directories,
                    "compactions": report.compactions,
                    "files_in": report.files_in,
                    "rows_compacted": report.rows,
                    "recovered": report.recovered,
                },
            )

    return lake_compaction


def lake_freshness_checks(
    settings: OrchestratorSettings, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> dg.AssetChecksDefinition:
    """Per stream: is the newest event in the lake younger than its threshold? A warning, not a
    failed run: stale data is an alert (serve-metrics exports the same decision)."""
    specs = [
        dg.AssetCheckSpec(
            LAKE_FRESHNESS_CHECK,
            asset=lake_asset_key(stream),
            description=f"newest {stream} event younger than"
            f" {settings.freshness.lake_threshold(stream):.0f} s",
        )
        for stream in settings.streams
    ]

    @dg.multi_asset_check(specs=specs, name="lake_freshness_check", can_subset=True)
    def lake_freshness_check(context: AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        lake = open_lake(settings.lake)
        at = now()
        for check_key in context.selected_asset_check_keys:
            stream = check_key.asset_key.path[-1]
            fresh = assess(
                stream,
                newest_event_time(lake, stream),
                settings.freshness.lake_threshold(stream),
                at,
            )
            yield dg.AssetCheckResult(
                asset_key=check_key.asset_key,
                check_name=LAKE_FRESHNESS_CHECK,
                passed=not fresh.stale,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "newest_event_time": fresh.last.isoformat() if fresh.last else "none",
                    "age_s": fresh.age_s if fresh.age_s is not None else -1.0,
                    "max_age_s": fresh.max_age_s,
                },
            )

    return lake_freshness_check
