"""The page: KPIs, daily engagement and revenue, the funnel, top products, sensor health.

Reads go through :func:`load_snapshot`, cached per (file, mtime, size) so a page load reads the
file only after a new build (or once per ``cache_ttl_s``): the dashboard holds DuckDB's lock for
a fraction of a second per build, not per visitor, and a dbt build is not refused because
someone is looking at the page. A warehouse that cannot be read (none yet, a build writing it,
a mart missing) is a message on the page, never a traceback.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard.queries import (
    Snapshot,
    WarehouseBusy,
    WarehouseIncomplete,
    WarehouseMissing,
    read_snapshot,
)
from dashboard.settings import DashboardSettings

log = logging.getLogger(__name__)

TITLE = "polystream: business dashboard"
BUILD_COMMAND = "python -m orchestrator build"

# The KPI labels: the browser test and the AppTest find the metrics by them.
REVENUE = "Revenue"
ORDERS = "Orders"
ACTIVE_USERS = "Active users"
CONVERSION = "Conversion"
KPI_LABELS = (REVENUE, ORDERS, ACTIVE_USERS, CONVERSION)


def format_money(value: float) -> str:
    return f"{value:,.2f}"


def format_count(value: int) -> str:
    return f"{value:,}"


def format_rate(value: float | None) -> str:
    """A share as a percentage with two decimals; an em dash when undefined (no views)."""
    return "—" if value is None else f"{value:.2%}"


@st.cache_data(show_spinner=False, max_entries=8)
def _cached_snapshot(
    path: str, mtime_ns: int, size: int, top_products: int, ttl_bucket: int
) -> Snapshot:
    # mtime_ns, size and ttl_bucket are only cache keys: a new build, or the TTL, is a new entry.
    return read_snapshot(Path(path), top_products)


@st.cache_resource
def _last_read() -> dict[str, Snapshot]:
    """The last snapshot read of each warehouse file, shown while a build holds the file."""
    return {}


def load_snapshot(settings: DashboardSettings) -> Snapshot:
    """The marts as of the file's last write, read at most once per build (and TTL)."""
    path = settings.warehouse_path
    if not path.is_file():
        raise WarehouseMissing(path, f"No warehouse yet at {path}.")
    stat = path.stat()
    key = str(path.resolve())
    snapshot = _cached_snapshot(
        key,
        stat.st_mtime_ns,
        stat.st_size,
        settings.top_products,
        int(time.time() // settings.cache_ttl_s),
    )
    _last_read()[key] = snapshot
    return snapshot


def previous_snapshot(settings: DashboardSettings) -> Snapshot | None:
    """The snapshot this process last read of the settings' warehouse, if any."""
    return _last_read().get(str(settings.warehouse_path.resolve()))


def render(settings: DashboardSettings) -> None:
    """Draw the whole page for ``settings``' warehouse (the Streamlit script calls this)."""
    st.set_page_config(page_title="polystream dashboard", layout="wide")
    st.title(TITLE)
    try:
        snapshot = load_snapshot(settings)
    except WarehouseMissing as exc:
        st.warning(
            f"{exc} The dashboard shows the warehouse marts, which the orchestrator's dbt build "
            f"writes: run `{BUILD_COMMAND}` (the nightly schedule runs it too), then reload "
            "this page."
        )
        return
    except WarehouseBusy as exc:
        log.info("warehouse busy", extra={"path": str(exc.path)})
        previous = previous_snapshot(settings)
        if previous is None:
            st.info(f"{exc} Reload this page in a minute.")
            return
        # A build takes minutes: show the last build read meanwhile, and say so.
        st.info(
            f"{exc} Showing the warehouse as last read (written "
            f"{previous.modified_at:%Y-%m-%d %H:%M:%S} UTC); reload when the build is over."
        )
        snapshot = previous
    except WarehouseIncomplete as exc:
        st.error(f"{exc} Run `{BUILD_COMMAND}` to build every mart, then reload this page.")
        return

    st.caption(
        f"Warehouse `{snapshot.path}`, last written "
        f"{snapshot.modified_at:%Y-%m-%d %H:%M:%S} UTC. Days are UTC days."
    )
    _kpis(snapshot)
    left, right = st.columns(2)
    with left:
        _engagement(snapshot)
    with right:
        _revenue(snapshot)
    _funnel(snapshot)
    _top_products(snapshot)
    _sensor_health(snapshot)


def _kpis(snapshot: Snapshot) -> None:
    kpis = snapshot.kpis
    revenue_trend = snapshot.revenue_by_day
    columns = st.columns(len(KPI_LABELS))
    columns[0].metric(
        REVENUE,
        format_money(kpis.revenue),
        help="sum of fct_revenue.revenue (every purchase)",
        chart_data=revenue_trend["revenue"].tolist() or None,
        border=True,
    )
    columns[1].metric(
        ORDERS,
        format_count(kpis.orders),
        help="purchases (rows of fct_revenue)",
        chart_data=revenue_trend["orders"].tolist() or None,
        border=True,
    )
    columns[2].metric(
        ACTIVE_USERS,
        format_count(kpis.active_users),
        help="distinct users with at least one event",
        border=True,
    )
    columns[3].metric(
        CONVERSION,
        format_rate(kpis.conversion),
        help="sessions with a purchase over sessions with a view, summed over every day",
        border=True,
    )


def _by_day(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with date_key as ISO day text: the charts' x axis shows one tick per day
    instead of a time axis with hours."""
    return frame.assign(date_key=pd.to_datetime(frame["date_key"]).dt.strftime("%Y-%m-%d"))


def _engagement(snapshot: Snapshot) -> None:
    st.subheader("Daily engagement")
    frame = snapshot.engagement
    if frame.empty:
        st.caption("No user events yet.")
        return
    events = _by_day(frame).pivot_table(
        index="date_key", columns="event_type", values="events", aggfunc="sum", fill_value=0
    )
    st.line_chart(events, x_label="day", y_label="events")


def _revenue(snapshot: Snapshot) -> None:
    st.subheader("Daily revenue")
    frame = snapshot.revenue_by_day
    if frame.empty:
        st.caption("No purchases yet.")
        return
    st.bar_chart(
        _by_day(frame).set_index("date_key")[["revenue"]], x_label="day", y_label="revenue"
    )


def _funnel(snapshot: Snapshot) -> None:
    st.subheader("Funnel")
    frame = snapshot.funnel
    if frame.empty:
        st.caption("No sessions yet.")
        return
    steps = pd.DataFrame(
        {
            "step": ["1 viewed", "2 carted", "3 purchased"],
            "sessions": [
                int(frame["viewed_sessions"].sum()),
                int(frame["carted_sessions"].sum()),
                int(frame["purchased_sessions"].sum()),
            ],
        }
    ).set_index("step")
    left, right = st.columns([1, 2])
    with left:
        st.bar_chart(steps, horizontal=True, x_label="sessions", y_label="")
    with right:
        st.dataframe(
            frame,
            hide_index=True,
            column_config={
                "date_key": st.column_config.DateColumn("day"),
                "viewed_sessions": "viewed",
                "carted_sessions": "carted",
                "purchased_sessions": "purchased",
                "view_to_cart_rate": st.column_config.NumberColumn("view → cart", format="percent"),
                "cart_to_purchase_rate": st.column_config.NumberColumn(
                    "cart → purchase", format="percent"
                ),
            },
        )


def _top_products(snapshot: Snapshot) -> None:
    st.subheader("Top products")
    frame = snapshot.top_products
    if frame.empty:
        st.caption("No purchases yet.")
        return
    # A static table (at most settings.top_products rows): drawn at once, readable in a
    # screenshot and by the browser test.
    st.table(
        frame.assign(revenue=frame["revenue"].map(format_money)).set_index("product_id"),
    )


def _sensor_health(snapshot: Snapshot) -> None:
    st.subheader("Sensor health")
    frame = snapshot.sensor_health
    if frame.empty:
        st.caption("No sensor readings yet.")
        return
    silent = int((frame["days_silent"] > 0).sum())
    if silent:
        st.warning(f"{silent} of {len(frame)} sensors did not report on the latest day.")
    else:
        st.success(f"All {len(frame)} sensors reported on the latest day.")
    readings = _by_day(snapshot.sensor_readings_by_day).pivot_table(
        index="date_key", columns="sensor_type", values="readings", aggfunc="sum", fill_value=0
    )
    st.line_chart(readings, x_label="day", y_label="readings", height=250)
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "sensor_id": "sensor",
            "sensor_type": "type",
            "last_day": st.column_config.DateColumn("last day"),
            "days_silent": "days silent",
            "last_day_readings": "readings (last day)",
            "last_day_min": st.column_config.NumberColumn("min (last day)", format="%.2f"),
            "last_day_avg": st.column_config.NumberColumn("avg (last day)", format="%.2f"),
            "last_day_max": st.column_config.NumberColumn("max (last day)", format="%.2f"),
            "readings": "readings (all days)",
        },
    )
