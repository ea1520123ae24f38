"""A small warehouse of hand-computed marts (the tables and columns of the warehouse contract),
for the dashboard's query and page tests; the real dbt-built warehouse is tested in
tests/integration/warehouse/test_dashboard_*.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

# What the data below adds up to, by hand.
REVENUE = 1270.00  # 2 x 10.00 + 1 x 5.50 + 1 x 10.00 + 1 x 1234.50
ORDERS = 4
ACTIVE_USERS = 4  # u1..u4 (u4 only viewed)
VIEWED, PURCHASED = 7, 4  # conversion 4/7 = 57.14%
SENSORS = 2  # s2 is silent on the latest day

MARTS_SQL = """
CREATE SCHEMA staging;
CREATE SCHEMA marts;
CREATE TABLE staging.stg_user_events AS
SELECT * FROM (VALUES
    ('ev1', 'u1', 's1', 'view', TIMESTAMPTZ '2026-11-01 09:00:00+00'),
    ('ev2', 'u2', 's2', 'view', TIMESTAMPTZ '2026-11-01 10:00:00+00'),
    ('ev3', 'u3', 's3', 'view', TIMESTAMPTZ '2026-11-02 11:00:00+00'),
    ('ev4', 'u4', 's4', 'view', TIMESTAMPTZ '2026-11-02 12:00:00+00'),
    ('ev5', 'u1', 's5', 'purchase', TIMESTAMPTZ '2026-11-02 13:00:00+00')
) AS t(event_id, user_id, session_id, event_type, event_time);
CREATE TABLE marts.dim_date AS
SELECT d::DATE AS date_key, year(d) AS year, month(d) AS month, day(d) AS day,
       dayofweek(d) AS day_of_week, dayofweek(d) IN (0, 6) AS is_weekend
FROM range(DATE '2026-11-01', DATE '2026-11-03', INTERVAL 1 DAY) AS r(d);
CREATE TABLE marts.dim_products AS
SELECT * FROM (VALUES
    ('p1', 'Desk lamp', 'home', 10.00::DOUBLE, TIMESTAMPTZ '2026-10-01 00:00:00+00'),
    ('p2', 'Mug', 'kitchen', 5.50::DOUBLE, TIMESTAMPTZ '2026-10-01 00:00:00+00'),
    ('p3', 'Bicycle', 'sport', 1234.50::DOUBLE, TIMESTAMPTZ '2026-10-01 00:00:00+00')
) AS t(product_id, name, category, price, updated_at);
CREATE TABLE marts.fct_revenue AS
SELECT * FROM (VALUES
    ('o1', DATE '2026-11-01', 'u1', 'p1', 2, 10.00::DOUBLE, 20.00::DOUBLE),
    ('o2', DATE '2026-11-01', 'u2', 'p2', 1, 5.50::DOUBLE, 5.50::DOUBLE),
    ('o3', DATE '2026-11-02', 'u1', 'p1', 1, 10.00::DOUBLE, 10.00::DOUBLE),
    ('o4', DATE '2026-11-02', 'u3', 'p3', 1, 1234.50::DOUBLE, 1234.50::DOUBLE)
) AS t(event_id, date_key, user_id, product_id, quantity, unit_price, revenue);
CREATE TABLE marts.dim_users AS
SELECT user_id, min(event_time) AS first_seen_at, max(event_time) AS last_seen_at,
       count(DISTINCT session_id) AS sessions, count(*) AS events,
       0 AS purchases, 0.0 AS revenue, NULL::VARCHAR AS last_device
FROM staging.stg_user_events GROUP BY user_id;
CREATE TABLE marts.fct_daily_engagement AS
SELECT * FROM (VALUES
    (DATE '2026-11-01', 'view', 6, 2, 4),
    (DATE '2026-11-01', 'add_to_cart', 3, 2, 3),
    (DATE '2026-11-01', 'purchase', 2, 2, 2),
    (DATE '2026-11-02', 'view', 5, 3, 3),
    (DATE '2026-11-02', 'add_to_cart', 2, 2, 2),
    (DATE '2026-11-02', 'purchase', 2, 2, 2)
) AS t(date_key, event_type, events, users, sessions);
CREATE TABLE marts.fct_funnel AS
SELECT * FROM (VALUES
    (DATE '2026-11-01', 4, 3, 2, 0.75, 2 / 3),
    (DATE '2026-11-02', 3, 2, 2, 2 / 3, 1.0)
) AS t(date_key, viewed_sessions, carted_sessions, purchased_sessions,
       view_to_cart_rate, cart_to_purchase_rate);
CREATE TABLE marts.fct_sensor_daily AS
SELECT * FROM (VALUES
    (DATE '2026-11-01', 'sensor-1', 'temperature', 10, 18.0, 20.5, 23.0),
    (DATE '2026-11-02', 'sensor-1', 'temperature', 12, 17.0, 19.0, 21.0),
    (DATE '2026-11-01', 'sensor-2', 'humidity', 8, 40.0, 45.0, 50.0)
) AS t(date_key, sensor_id, sensor_type, readings, min_value, avg_value, max_value);
"""


def build_marts(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(MARTS_SQL)


@pytest.fixture
def marts() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB holding the hand-computed marts."""
    connection = duckdb.connect(":memory:")
    build_marts(connection)
    yield connection
    connection.close()


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    """A DuckDB file holding the hand-computed marts (closed: readers may open it)."""
    path = tmp_path / "warehouse" / "polystream.duckdb"
    path.parent.mkdir()
    with duckdb.connect(str(path)) as connection:
        build_marts(connection)
    return path
