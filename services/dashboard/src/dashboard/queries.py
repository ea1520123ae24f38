"""What the dashboard reads from the warehouse marts: typed functions over a DuckDB connection,
and :func:`read_snapshot`, which runs all of them in one short read-only visit to the file.

Why one short visit: DuckDB locks its file per process. While dbt builds (a writer), a reader's
open fails, and while any reader holds the file open, dbt's open fails. So the dashboard never
keeps a connection: it opens the file read-only, runs every query and closes it (0.14 s median
over the tests' seed warehouse), and the layout caches the result until the file changes (see
:mod:`dashboard.layout`).

The KPI definitions are the warehouse contract's:
revenue = sum(fct_revenue.revenue), orders = count(*) of fct_revenue, active users =
count(distinct user_id) over the staged user events, conversion = purchased_sessions /
viewed_sessions summed over fct_funnel.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

USER_EVENTS_TABLE = "staging.stg_user_events"
"""The staged user events, whose distinct users are the "Active users" KPI."""


class WarehouseUnavailable(Exception):
    """The warehouse cannot be read now; ``str()`` says why in words for the page."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


class WarehouseMissing(WarehouseUnavailable):
    """No DuckDB file at the path yet: nothing was built."""


class WarehouseBusy(WarehouseUnavailable):
    """Another process (a dbt build) holds the file's write lock."""


class WarehouseIncomplete(WarehouseUnavailable):
    """The file exists but a mart the dashboard reads does not (a build that has not finished
    once, or an older warehouse)."""


@dataclass(frozen=True)
class Kpis:
    revenue: float
    orders: int
    active_users: int
    viewed_sessions: int
    purchased_sessions: int

    @property
    def conversion(self) -> float | None:
        """Purchased over viewed sessions; None when no session viewed anything."""
        if self.viewed_sessions == 0:
            return None
        return self.purchased_sessions / self.viewed_sessions


@dataclass(frozen=True)
class Snapshot:
    """Everything the page shows, read in one visit to the warehouse file."""

    path: Path
    modified_at: datetime
    kpis: Kpis
    engagement: pd.DataFrame
    revenue_by_day: pd.DataFrame
    funnel: pd.DataFrame
    top_products: pd.DataFrame
    sensor_health: pd.DataFrame
    sensor_readings_by_day: pd.DataFrame


@contextmanager
def open_warehouse(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the warehouse file, closed on exit.

    Raises :class:`WarehouseMissing` when there is no file (DuckDB would create an empty one)
    and :class:`WarehouseBusy` when a writer holds its lock."""
    if not path.is_file():
        raise WarehouseMissing(path, f"No warehouse yet at {path}.")
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusy(
                path, f"The warehouse at {path} is being written (a build is running)."
            ) from exc
        raise
    try:
        yield connection
    finally:
        connection.close()


def _one(connection: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = connection.execute(sql).fetchone()
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return row


def kpis(connection: duckdb.DuckDBPyConnection) -> Kpis:
    """The four headline numbers over the whole warehouse."""
    revenue, orders = _one(
        connection, "SELECT coalesce(sum(revenue), 0), count(*) FROM marts.fct_revenue"
    )
    (active_users,) = _one(connection, f"SELECT count(DISTINCT user_id) FROM {USER_EVENTS_TABLE}")
    viewed, purchased = _one(
        connection,
        "SELECT coalesce(sum(viewed_sessions), 0), coalesce(sum(purchased_sessions), 0)"
        " FROM marts.fct_funnel",
    )
    return Kpis(
        revenue=float(revenue),
        orders=int(orders),
        active_users=int(active_users),
        viewed_sessions=int(viewed),
        purchased_sessions=int(purchased),
    )


def daily_engagement(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per day and event type: date_key, event_type, events, users, sessions."""
    return connection.execute(
        "SELECT date_key, event_type, events, users, sessions FROM marts.fct_daily_engagement"
        " ORDER BY date_key, event_type"
    ).df()


def daily_revenue(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per day with a sale: date_key, orders, units, revenue."""
    return connection.execute(
        "SELECT date_key, count(*) AS orders, sum(quantity)::BIGINT AS units,"
        " sum(revenue)::DOUBLE AS revenue"
        " FROM marts.fct_revenue GROUP BY date_key ORDER BY date_key"
    ).df()


def funnel_by_day(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """fct_funnel as it is, one row per day, oldest first."""
    return connection.execute(
        "SELECT date_key, viewed_sessions, carted_sessions, purchased_sessions,"
        " view_to_cart_rate, cart_to_purchase_rate FROM marts.fct_funnel ORDER BY date_key"
    ).df()


def top_products(connection: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
    """The ``limit`` products with the most revenue: product_id, name, category, orders,
    units, revenue (ties by product_id). A product the catalog lacks shows its id as name."""
    return connection.execute(
        "SELECT r.product_id, coalesce(p.name, r.product_id::VARCHAR) AS name, p.category,"
        " count(*) AS orders, sum(r.quantity)::BIGINT AS units, sum(r.revenue)::DOUBLE AS revenue"
        " FROM marts.fct_revenue AS r"
        " LEFT JOIN marts.dim_products AS p ON p.product_id = r.product_id"
        " GROUP BY r.product_id, p.name, p.category"
        " ORDER BY revenue DESC, r.product_id LIMIT ?",
        [limit],
    ).df()


def sensor_health(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per sensor: its type, the last day it reported, that day's readings and
    min/avg/max, its readings in all, and ``days_silent``: days between its last day and the
    warehouse's latest sensor day (0: it reported on the latest day). Silent sensors first."""
    return connection.execute(
        """
        WITH latest AS (SELECT max(date_key) AS day FROM marts.fct_sensor_daily)
        SELECT
            s.sensor_id,
            arg_max(s.sensor_type, s.date_key) AS sensor_type,
            max(s.date_key) AS last_day,
            date_diff('day', max(s.date_key), any_value(latest.day)) AS days_silent,
            arg_max(s.readings, s.date_key) AS last_day_readings,
            arg_max(s.min_value, s.date_key) AS last_day_min,
            arg_max(s.avg_value, s.date_key) AS last_day_avg,
            arg_max(s.max_value, s.date_key) AS last_day_max,
            sum(s.readings)::BIGINT AS readings
        FROM marts.fct_sensor_daily AS s CROSS JOIN latest
        GROUP BY s.sensor_id
        ORDER BY days_silent DESC, s.sensor_id
        """
    ).df()


def sensor_readings_by_day(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Readings per day and sensor type: date_key, sensor_type, readings, sensors."""
    return connection.execute(
        "SELECT date_key, sensor_type, sum(readings)::BIGINT AS readings,"
        " count(DISTINCT sensor_id) AS sensors"
        " FROM marts.fct_sensor_daily GROUP BY date_key, sensor_type"
        " ORDER BY date_key, sensor_type"
    ).df()


def read_snapshot(path: Path, top_products_limit: int) -> Snapshot:
    """Every query the page needs, in one read-only visit to the file.

    Raises a :class:`WarehouseUnavailable` (missing, busy or incomplete) with a message for the
    page; any other error is a bug and propagates."""
    with open_warehouse(path) as connection:
        try:
            return Snapshot(
                path=path,
                modified_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
                kpis=kpis(connection),
                engagement=daily_engagement(connection),
                revenue_by_day=daily_revenue(connection),
                funnel=funnel_by_day(connection),
                top_products=top_products(connection, top_products_limit),
                sensor_health=sensor_health(connection),
                sensor_readings_by_day=sensor_readings_by_day(connection),
            )
        except duckdb.CatalogException as exc:
            first_line = str(exc).splitlines()[0]
            raise WarehouseIncomplete(
                path, f"The warehouse at {path} lacks a table the dashboard reads: {first_line}"
            ) from exc
