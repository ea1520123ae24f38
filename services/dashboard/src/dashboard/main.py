"""Entry point of ``python -m dashboard``: serve the Streamlit app on ``DASHBOARD_PORT``.

\b
python -m dashboard [serve]    serve the dashboard (the default)

Streamlit runs in this process (``streamlit.web.bootstrap``, what ``streamlit run`` calls), so
the logging configured here is the server's, and SIGTERM stops it. Headless, no usage stats, no
file watcher (nothing downloads or phones home; the code does not change under a server).
Settings come from DASHBOARD_* variables (:class:`dashboard.settings.DashboardSettings`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dashboard.settings import DashboardSettings
from polystream_common.logs import configure_logging

APP_SCRIPT = Path(__file__).with_name("app.py")
"""The Streamlit script, beside this module (in a wheel as in the source tree)."""


def streamlit_flags(settings: DashboardSettings) -> dict[str, Any]:
    """Streamlit's config options, keyed as ``streamlit run``'s flags are (``server_port`` is
    ``--server.port``)."""
    return {
        "server_address": settings.host,
        "server_port": settings.port,
        "server_headless": True,
        "server_fileWatcherType": "none",
        "server_runOnSave": False,
        "browser_gatherUsageStats": False,
        "global_developmentMode": False,
        "logger_level": settings.log_level.lower(),
        # Unexpected errors show their type, not a traceback with paths and values.
        "client_showErrorDetails": "type",
        "client_toolbarMode": "viewer",
    }


def serve(settings: DashboardSettings) -> None:
    """Serve the app until SIGTERM/SIGINT (blocks)."""
    from streamlit.web import bootstrap  # heavy: imported only to serve

    flags = streamlit_flags(settings)
    bootstrap.load_config_options(flag_options=flags)
    bootstrap.run(str(APP_SCRIPT), False, [], flags)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m dashboard``: serve the dashboard (``serve``, the default)."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard",
        description="The business dashboard over the warehouse marts (Streamlit).",
        epilog="Settings come from DASHBOARD_* variables (DASHBOARD_PORT, "
        "DASHBOARD_WAREHOUSE_PATH, ...).",
    )
    parser.add_argument("command", nargs="?", choices=["serve"], default="serve")
    parser.parse_args(argv)
    settings = DashboardSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    settings.log_effective()
    serve(settings)
