"""The page, run by Streamlit's own AppTest over the hand-computed marts (conftest.py): the KPI
metrics show the marts' aggregates under their stable labels, and a warehouse that cannot be read
is a message, never a traceback."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import main as dashboard_main
from dashboard.layout import KPI_LABELS

from .conftest import ACTIVE_USERS, ORDERS, REVENUE

APP = str(dashboard_main.APP_SCRIPT)
# A limit, not a measurement: the first run imports pandas, duckdb and the charts.
RUN_TIMEOUT_S = 120


def run_page(monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> AppTest:
    monkeypatch.setenv("DASHBOARD_WAREHOUSE_PATH", str(warehouse))
    page = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    return page


def metrics(page: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in page.metric}


def test_the_kpis_show_the_marts_aggregates(
    monkeypatch: pytest.MonkeyPatch, warehouse_file: Path
) -> None:
    page = run_page(monkeypatch, warehouse_file)

    assert metrics(page) == {
        "Revenue": f"{REVENUE:,.2f}",  # 1,270.00
        "Orders": str(ORDERS),
        "Active users": str(ACTIVE_USERS),
        "Conversion": "57.14%",  # 4 purchased of 7 viewed sessions
    }
    assert tuple(metrics(page)) == KPI_LABELS
    assert [h.value for h in page.subheader] == [
        "Daily engagement",
        "Daily revenue",
        "Funnel",
        "Top products",
        "Sensor health",
    ]
    assert [w.value for w in page.warning] == ["1 of 2 sensors did not report on the latest day."]


def test_a_new_build_is_shown_at_the_next_page_load(
    monkeypatch: pytest.MonkeyPatch, warehouse_file: Path
) -> None:
    run_page(monkeypatch, warehouse_file)
    with duckdb.connect(str(warehouse_file)) as writer:  # the next build: one more purchase
        writer.execute(
            "INSERT INTO marts.fct_revenue VALUES"
            " ('o5', DATE '2026-11-02', 'u4', 'p2', 2, 5.50, 11.00)"
        )

    page = run_page(monkeypatch, warehouse_file)

    assert metrics(page)["Orders"] == str(ORDERS + 1)
    assert metrics(page)["Revenue"] == f"{REVENUE + 11:,.2f}"


def test_no_warehouse_yet_is_a_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "warehouse" / "polystream.duckdb"

    page = run_page(monkeypatch, missing)

    assert not page.metric
    (message,) = page.warning
    assert message.value.startswith(f"No warehouse yet at {missing}.")
    assert "python -m orchestrator build" in message.value
    assert not missing.exists()


def test_a_warehouse_without_marts_is_a_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()

    page = run_page(monkeypatch, empty)

    assert not page.metric
    (message,) = page.error
    assert "lacks a table the dashboard reads" in message.value
