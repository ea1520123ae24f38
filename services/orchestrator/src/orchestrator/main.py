"""orchestrator: the nightly analytics run (lake compaction, then dbt build) on Dagster.

\b
python -m orchestrator build           one full run now, in this process: compaction, dbt build
                                       (tests as checks), then every freshness check; prints a
                                       JSON summary, exits 1 if a step or a dbt test failed
python -m orchestrator serve-metrics   export the lake's and the marts' freshness on /metrics
                                       (ORCHESTRATOR_METRICS_PORT, 9108) until SIGTERM

The schedule runs in Dagster's daemon: dagster-daemon run -m orchestrator.definitions (and the
UI: dagster-webserver -m orchestrator.definitions -p 3070), both with DAGSTER_HOME set. Settings
come from ORCHESTRATOR_* variables.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from dataclasses import asdict

from orchestrator.settings import OrchestratorSettings
from polystream_common.cli import print_json, service_app
from polystream_common.logs import configure_logging
from polystream_common.metrics import serve_metrics

log = logging.getLogger(__name__)

app = service_app(__doc__ or "")


@app.command()
def build() -> None:
    """One full run now, in process; exits 1 when a step or an ERROR check (dbt test) failed."""
    settings = OrchestratorSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    settings.log_effective()
    # Dagster is imported here, not at the top: serve-metrics does without its seconds of import.
    import dagster as dg

    from orchestrator.build import run_build
    from orchestrator.definitions import build_definitions

    if os.environ.get("DAGSTER_HOME"):
        instance = dg.DagsterInstance.get()
    else:
        log.warning("DAGSTER_HOME is not set: this run is recorded nowhere (ephemeral instance)")
        instance = dg.DagsterInstance.ephemeral()
    # dbt's log lines go to stderr with the rest of the logs: stdout carries the summary alone.
    with instance, contextlib.redirect_stdout(sys.stderr):
        outcome = run_build(build_definitions(settings), instance)
    print_json({"success": outcome.success, **asdict(outcome)})
    if not outcome.success:
        log.critical(
            "the build failed",
            extra={"failed_steps": outcome.failed_steps, "failed_checks": outcome.checks_failed},
        )
        sys.exit(1)
    if outcome.warnings:
        log.warning("stale data", extra={"checks": outcome.warnings})


@app.command("serve-metrics")
def serve_metrics_command() -> None:
    """Export freshness gauges on /metrics until SIGTERM or SIGINT."""
    from orchestrator.metrics import FreshnessExporter

    settings = OrchestratorSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    settings.log_effective()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: stop.set())
    exporter = FreshnessExporter.real(settings)
    serve_metrics(settings.metrics_host, settings.metrics_port)
    log.info("serving freshness metrics", extra={"port": settings.metrics_port})
    exporter.run(stop)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m orchestrator``: ``build`` or ``serve-metrics``."""
    app(args=argv, prog_name="python -m orchestrator")
