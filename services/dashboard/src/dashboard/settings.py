"""Settings of the dashboard (env prefix ``DASHBOARD_``).

The dashboard reads one DuckDB file and serves one HTTP port: no Kafka, no store credentials, so
it subclasses pydantic-settings directly rather than polystream_common's ``ServiceSettings``
(the dashboard's locked dependencies do not include polystream-common).
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

DEFAULT_WAREHOUSE_PATH = Path(".stack/warehouse/polystream.duckdb")


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DASHBOARD_", extra="ignore")

    service_name: str = "dashboard"
    log_level: str = "INFO"
    log_json: bool = False
    host: str = Field(
        default="127.0.0.1", description="the address Streamlit listens on (0.0.0.0 in a container)"
    )
    port: int = Field(default=8501, ge=1, le=65535)
    warehouse_path: Path = Field(
        default=DEFAULT_WAREHOUSE_PATH,
        description="the DuckDB file dbt builds (opened read-only; relative to the working"
        " directory)",
    )
    top_products: int = Field(default=10, ge=1, le=100, description="rows of the top products")
    cache_ttl_s: float = Field(
        default=3600.0,
        gt=0,
        description="how long a read of the marts is reused; a new build (the file's mtime"
        " changes) is read at the next page load regardless",
    )

    def log_effective(self) -> None:
        """Log the effective configuration once at start (nothing here is secret)."""
        log.info("effective settings", extra={"settings": self.model_dump(mode="json")})
