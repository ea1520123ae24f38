"""Settings of the orchestrator (env prefix ``ORCHESTRATOR_``; nested fields with ``__``:
``ORCHESTRATOR_FRESHNESS__MART_MAX_AGE_S=90000``).

Relative paths resolve against the working directory: the defaults are the local stack's, run
from the repository root. Containers set absolute ones.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from polystream_common.settings import ServiceSettings
from polystream_lake.compaction import CompactionSettings
from polystream_lake.layout import LakeSettings
from polystream_lake.streams import LAKE_STREAMS_BY_NAME

HOUR = 3600.0
DAY = 24 * HOUR


class RetrySettings(BaseModel):
    """Dagster's RetryPolicy on the compaction and dbt steps: ``delay_s * 2**n``, +/- jitter."""

    max_retries: int = Field(default=3, ge=0)
    delay_s: float = Field(default=30.0, ge=0)


class FreshnessSettings(BaseModel):
    """When a source or a mart is stale. Exported beside the timestamps as gauges, so the alert
    rules compare against these values instead of copying them."""

    lake_max_age_s: dict[str, float] = Field(
        # The lake-writer flushes within minutes; the catalog changes only when products do.
        default={
            "sensor_readings": 1 * HOUR,
            "user_events": 1 * HOUR,
            "chat_messages": 6 * HOUR,
            "products": 7 * DAY,
        },
        description="per stream: the newest event in the lake older than this is stale",
    )
    lake_default_max_age_s: float = Field(
        default=6 * HOUR, gt=0, description="streams not named in lake_max_age_s"
    )
    mart_max_age_s: float = Field(
        # Nightly at 02:00 UTC, plus a retried run's slack.
        default=26 * HOUR,
        gt=0,
        description="a mart whose last successful build is older than this is stale",
    )

    def lake_threshold(self, stream: str) -> float:
        return self.lake_max_age_s.get(stream, self.lake_default_max_age_s)


class OrchestratorSettings(ServiceSettings):
    """Where the lake, the dbt project and the warehouse are; schedule, retries, freshness."""

    model_config = SettingsConfigDict(env_prefix="ORCHESTRATOR_")

    service_name: str = "orchestrator"
    metrics_port: int = Field(default=9108, ge=0, le=65535)  # stack.env ORCHESTRATOR_METRICS_PORT
    lake: LakeSettings = LakeSettings()  # ORCHESTRATOR_LAKE__URI, as LAKE_WRITER_LAKE__URI
    warehouse_path: Path = Field(
        default=Path(".stack/warehouse/polystream.duckdb"), description="the DuckDB file"
    )
    dbt_project_dir: Path = Field(default=Path("warehouse"), description="the dbt project")
    dbt_cache_dir: Path = Field(
        default=Path(".cache/orchestrator/dbt"),
        description="dbt's manifest (parsed at load) and each run's artifacts; the project"
        " directory itself is never written to",
    )
    streams: tuple[str, ...] = tuple(LAKE_STREAMS_BY_NAME)
    compaction: CompactionSettings = CompactionSettings()
    schedule_cron: str = "0 2 * * *"
    schedule_timezone: str = "UTC"
    retry: RetrySettings = RetrySettings()
    freshness: FreshnessSettings = FreshnessSettings()
    metrics_refresh_s: float = Field(
        default=60.0,
        gt=0,
        description="serve-metrics re-reads the lake and the warehouse this often (a scrape"
        " never opens the DuckDB file: a reader would block the nightly build's writer)",
    )

    marts: tuple[str, ...] = Field(
        default=(
            "dim_date",
            "dim_users",
            "dim_products",
            "fct_daily_engagement",
            "fct_funnel",
            "fct_revenue",
            "fct_sensor_daily",
        ),
        description="serve-metrics exports these marts' build times even before the first"
        " build (as 0: never), beside any other the warehouse records",
    )

    def resolved(self) -> OrchestratorSettings:
        """The same settings with every path absolute (dbt runs in the project directory)."""
        return self.model_copy(
            update={
                name: getattr(self, name).resolve()
                for name in ("warehouse_path", "dbt_project_dir", "dbt_cache_dir")
            }
        )
