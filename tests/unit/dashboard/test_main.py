"""``python -m dashboard``: its settings and the Streamlit options it serves with."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.main import APP_SCRIPT, streamlit_flags
from dashboard.settings import DEFAULT_WAREHOUSE_PATH, DashboardSettings
from polystream_common.logs import configure_logging


def test_defaults_are_the_local_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DASHBOARD_PORT", "DASHBOARD_WAREHOUSE_PATH", "DASHBOARD_HOST"):
        monkeypatch.delenv(name, raising=False)

    settings = DashboardSettings()

    assert settings.port == 8501
    assert settings.warehouse_path == Path(".stack/warehouse/polystream.duckdb")
    assert settings.warehouse_path == DEFAULT_WAREHOUSE_PATH
    assert settings.host == "127.0.0.1"


def test_settings_come_from_dashboard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_PORT", "18601")
    monkeypatch.setenv("DASHBOARD_WAREHOUSE_PATH", "/data/w.duckdb")
    monkeypatch.setenv("DASHBOARD_TOP_PRODUCTS", "5")

    settings = DashboardSettings()

    assert (settings.port, settings.warehouse_path, settings.top_products) == (
        18601,
        Path("/data/w.duckdb"),
        5,
    )


def test_streamlit_serves_headless_without_usage_stats_on_the_settings_port() -> None:
    flags = streamlit_flags(DashboardSettings(port=18602, host="0.0.0.0"))

    assert flags["server_port"] == 18602
    assert flags["server_address"] == "0.0.0.0"
    assert flags["server_headless"] is True
    assert flags["browser_gatherUsageStats"] is False
    assert flags["server_fileWatcherType"] == "none"


def test_the_app_script_ships_beside_the_package() -> None:
    assert APP_SCRIPT.is_file()
    assert APP_SCRIPT.parent.name == "dashboard"


def test_help_names_the_settings() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dashboard", "--help"], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
    assert "DASHBOARD_PORT" in done.stdout


def test_an_unknown_command_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dashboard", "nonsense"], capture_output=True, text=True, check=False
    )

    assert done.returncode == 2


def test_json_logs_carry_the_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    logging.getLogger("dashboard.test").info("warehouse busy", extra={"path": "/w.duckdb"})

    (line,) = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert (record["level"], record["message"], record["path"]) == (
        "INFO",
        "warehouse busy",
        "/w.duckdb",
    )
