"""Settings of the dashboard (env prefix ``DASHBOARD_``).

The dashboard reads one DuckDB file and serves one HTTP port: it has no store credentials, and
of the shared base (``ServiceSettings``) it uses the environment and the logging settings.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from polystream_common.settings import ServiceSettings

DEFAULT_WAREHOUSE_PATH = Path(".stack/warehouse/polystream.duckdb")


class DashboardSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DASHBOARD_")

    service_name: str = "dashboard"
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
