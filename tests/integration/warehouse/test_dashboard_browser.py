"""The dashboard as a user sees it: ``python -m dashboard`` as a process on a port of its own, over
the warehouse dbt built from the known data set (``built_warehouse``), loaded in Debian's
chromium driven by Playwright. The KPI numbers on the page equal the marts' aggregates; a
screenshot of the page is kept (the test prints where).

Chromium comes from deploy/local/install-browser.sh (/usr/bin/chromium); Playwright's own browser
download cannot work on these machines. The flags keep chromium off the network it cannot reach
(without them it stalls on refused background connections)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[3]
ARTIFACT = ROOT / ".cache" / "test-artifacts" / "dashboard.png"
"""A stable copy of the last screenshot (.cache/ is git-ignored)."""
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Limits, not measurements: a loaded machine (2 cores, five builds) starts Streamlit slowly.
START_TIMEOUT_S = 120
PAGE_TIMEOUT_MS = 120_000
KPI_LABELS = ["Revenue", "Orders", "Active users", "Conversion"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def dashboard_process(warehouse: Path, tmp_path: Path) -> Iterator[str]:
    """``python -m dashboard`` on a free port over ``warehouse``; yields its URL once Streamlit's
    health endpoint answers, and stops it with SIGTERM afterwards."""
    port = free_port()
    log = tmp_path / "dashboard.log"
    env = {
        **os.environ,
        "DASHBOARD_HOST": "127.0.0.1",
        "DASHBOARD_PORT": str(port),
        "DASHBOARD_WAREHOUSE_PATH": str(warehouse),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(f"python -m dashboard exited {process.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"dashboard not healthy after {START_TIMEOUT_S}s:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"dashboard ignored SIGTERM:\n{log.read_text()}")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextmanager
def chromium(tmp_path: Path) -> Iterator[BrowserContext]:
    """Debian's chromium under Playwright, headless, with a fresh profile in ``tmp_path``."""
    assert CHROMIUM.is_file(), "no /usr/bin/chromium: run deploy/local/install-browser.sh"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 3200},
        )
        try:
            yield context
        finally:
            context.close()


def shown_kpis(page: Page) -> dict[str, str]:
    """Each st.metric's label and value as the page shows them, once all four are drawn."""
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=\"stMetricValue\"]').length >= n",
        arg=len(KPI_LABELS),
        timeout=PAGE_TIMEOUT_MS,
    )
    shown = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        shown[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return shown


def marts_kpis(warehouse: Path) -> dict[str, float]:
    """The KPIs by the warehouse contract's definitions, straight from the marts."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        revenue, orders = connection.execute(
            "SELECT sum(revenue), count(*) FROM marts.fct_revenue"
        ).fetchall()[0]
        ((users,),) = connection.execute(
            "SELECT count(DISTINCT user_id) FROM staging.stg_user_events"
        ).fetchall()
        ((viewed, purchased),) = connection.execute(
            "SELECT sum(viewed_sessions), sum(purchased_sessions) FROM marts.fct_funnel"
        ).fetchall()
    return {
        "Revenue": float(revenue),
        "Orders": orders,
        "Active users": users,
        "Conversion": purchased / viewed,
    }


def as_number(text: str) -> float:
    """A metric's text as a number: '12,345.67' -> 12345.67, '57.14%' -> 0.5714."""
    if text.endswith("%"):
        return float(text[:-1].replace(",", "")) / 100
    return float(text.replace(",", ""))


def save_screenshot(page: Page, tmp_path: Path) -> Path:
    # Let the charts and tables finish drawing: the screenshot is for people, nothing asserts
    # on it.
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.locator('[data-testid="stDataFrame"] canvas').first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.wait_for_timeout(1500)
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACT)
    print(f"dashboard screenshot: {shot} (copy: {ARTIFACT})")
    return shot


def test_the_browser_shows_the_marts_kpis(
    built_warehouse: Path, expected_kpis: dict[str, float], tmp_path: Path
) -> None:
    expected = marts_kpis(built_warehouse)
    # The marts agree with the seed's figures computed in Python, and the seed has purchases,
    # views and users: the comparison below is about real numbers.
    assert expected["Revenue"] == pytest.approx(expected_kpis["total_revenue"], abs=1e-6)
    assert expected["Orders"] == expected_kpis["orders"] > 0
    assert expected["Active users"] == expected_kpis["active_users"] > 0
    assert expected["Conversion"] == pytest.approx(expected_kpis["conversion"])

    with dashboard_process(built_warehouse, tmp_path) as url, chromium(tmp_path) as browser:
        page = browser.new_page()
        page.goto(url, timeout=PAGE_TIMEOUT_MS)
        shown = shown_kpis(page)
        top_product = page.locator('[data-testid="stTable"] tbody tr').first.inner_text()
        shot = save_screenshot(page, tmp_path)

    assert list(shown) == KPI_LABELS
    assert as_number(shown["Revenue"]) == pytest.approx(expected["Revenue"], abs=0.005)
    assert as_number(shown["Orders"]) == expected["Orders"]
    assert as_number(shown["Active users"]) == expected["Active users"]
    assert as_number(shown["Conversion"]) == pytest.approx(expected["Conversion"], abs=0.00005)
    with duckdb.connect(str(built_warehouse), read_only=True) as connection:
        ((best,),) = connection.execute(
            "SELECT product_id FROM marts.fct_revenue GROUP BY product_id"
            " ORDER BY sum(revenue) DESC, product_id LIMIT 1"
        ).fetchall()
    assert top_product.split()[0] == best
    assert shot.stat().st_size > 0


def test_the_browser_shows_a_message_before_the_first_build(tmp_path: Path) -> None:
    missing = tmp_path / "warehouse" / "polystream.duckdb"

    with dashboard_process(missing, tmp_path) as url, chromium(tmp_path) as browser:
        page = browser.new_page()
        page.goto(url, timeout=PAGE_TIMEOUT_MS)
        alert = page.locator('[data-testid="stAlert"]').first
        alert.wait_for(timeout=PAGE_TIMEOUT_MS)
        text = alert.inner_text()
        metrics = page.locator('[data-testid="stMetric"]').count()

    assert f"No warehouse yet at {missing}." in text
    assert metrics == 0
    assert not missing.exists()
