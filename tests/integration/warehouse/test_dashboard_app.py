"""The dashboard page under Streamlit's AppTest over a real warehouse: the KPI metrics equal
the marts' aggregates (the warehouse contract's definitions, computed here in SQL of our own),
and a warehouse a build is writing is a message, not a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.main import APP_SCRIPT

# A limit, not a measurement: the first run imports pandas, duckdb and the charts.
RUN_TIMEOUT_S = 120

HOLD_WRITE_LOCK = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])
# As a build does: the file changes (so no cached read of it stands in), and stays locked.
connection.execute("CREATE TABLE build_in_progress AS SELECT 1 AS step")
connection.execute("CHECKPOINT")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
connection.close()
"""


def run_page(monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> AppTest:
    monkeypatch.setenv("DASHBOARD_WAREHOUSE_PATH", str(warehouse))
    page = AppTest.from_file(str(APP_SCRIPT), default_timeout=RUN_TIMEOUT_S)
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    return page


@contextmanager
def write_lock(warehouse: Path) -> Iterator[None]:
    """Another process writes ``warehouse`` and holds it open (as a dbt build does) meanwhile."""
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "locked"
        yield
    finally:
        assert writer.stdin is not None
        writer.stdin.close()
        assert writer.wait(timeout=60) == 0


def metrics(page: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in page.metric}


def test_a_warehouse_being_written_is_a_message_and_readable_after(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    warehouse = tmp_path / "polystream.duckdb"
    with write_lock(warehouse):
        page = run_page(monkeypatch, warehouse)

        assert not page.metric
        (message,) = page.info
        assert message.value.startswith(f"The warehouse at {warehouse} is being written")

    # The build is over (its lock released): the next load reads the file.
    page = run_page(monkeypatch, warehouse)
    (message,) = page.error  # an empty file: no marts
    assert "lacks a table the dashboard reads" in message.value


def test_during_a_build_the_last_read_is_shown_with_a_note(
    monkeypatch: pytest.MonkeyPatch, built_warehouse: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "polystream.duckdb"
    shutil.copyfile(built_warehouse, warehouse)  # the shared one is never written
    before = metrics(run_page(monkeypatch, warehouse))
    assert before

    with write_lock(warehouse):
        page = run_page(monkeypatch, warehouse)

    assert metrics(page) == before
    (message,) = page.info
    assert "is being written" in message.value
    assert "Showing the warehouse as last read" in message.value


def test_the_kpis_equal_the_built_marts(
    monkeypatch: pytest.MonkeyPatch, built_warehouse: Path, expected_kpis: dict[str, float]
) -> None:
    with duckdb.connect(str(built_warehouse), read_only=True) as connection:
        ((revenue, orders),) = connection.execute(
            "SELECT sum(revenue), count(*) FROM marts.fct_revenue"
        ).fetchall()
        ((active_users,),) = connection.execute(
            "SELECT count(DISTINCT user_id) FROM staging.stg_user_events"
        ).fetchall()
        ((viewed, purchased),) = connection.execute(
            "SELECT sum(viewed_sessions), sum(purchased_sessions) FROM marts.fct_funnel"
        ).fetchall()
    # The marts hold the seed's figures (computed in Python by the warehouse fixtures).
    assert revenue == pytest.approx(expected_kpis["total_revenue"], abs=1e-6)
    assert (orders, active_users) == (expected_kpis["orders"], expected_kpis["active_users"])
    assert purchased / viewed == pytest.approx(expected_kpis["conversion"])
    assert orders > 0 and active_users > 0

    page = run_page(monkeypatch, built_warehouse)

    assert metrics(page) == {
        "Revenue": f"{revenue:,.2f}",
        "Orders": f"{orders:,}",
        "Active users": f"{active_users:,}",
        "Conversion": f"{purchased / viewed:.2%}",
    }
    assert not page.error


def test_every_section_is_drawn_from_the_built_marts(
    monkeypatch: pytest.MonkeyPatch, built_warehouse: Path
) -> None:
    page = run_page(monkeypatch, built_warehouse)

    assert [h.value for h in page.subheader] == [
        "Daily engagement",
        "Daily revenue",
        "Funnel",
        "Top products",
        "Sensor health",
    ]
    # A "No ... yet" caption would mean a section found its mart empty.
    assert not [c.value for c in page.caption if " yet." in c.value]
    assert len(page.table) == 1  # top products
    assert len(page.dataframe) == 2  # funnel by day, sensor health
