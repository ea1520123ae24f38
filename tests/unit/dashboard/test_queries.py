"""The dashboard's queries over hand-computed marts (conftest.py): each returns what the marts
add up to, and a warehouse that cannot be read raises the error the page turns into a message."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from dashboard import queries
from dashboard.queries import Kpis, WarehouseIncomplete, WarehouseMissing

from .conftest import ACTIVE_USERS, ORDERS, PURCHASED, REVENUE, SENSORS, VIEWED


def test_kpis_are_the_contracts_aggregates(marts: duckdb.DuckDBPyConnection) -> None:
    kpis = queries.kpis(marts)

    assert kpis == Kpis(
        revenue=REVENUE,
        orders=ORDERS,
        active_users=ACTIVE_USERS,
        viewed_sessions=VIEWED,
        purchased_sessions=PURCHASED,
    )
    assert kpis.conversion == pytest.approx(4 / 7)


def test_kpis_of_empty_marts_are_zero_and_conversion_undefined(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    for table in ("marts.fct_revenue", "marts.fct_funnel", "staging.stg_user_events"):
        marts.execute(f"DELETE FROM {table}")

    kpis = queries.kpis(marts)

    assert (kpis.revenue, kpis.orders, kpis.active_users) == (0.0, 0, 0)
    assert kpis.conversion is None


def test_daily_revenue_sums_each_day(marts: duckdb.DuckDBPyConnection) -> None:
    frame = queries.daily_revenue(marts)

    assert [d.date() for d in frame["date_key"]] == [date(2026, 11, 1), date(2026, 11, 2)]
    assert frame["orders"].tolist() == [2, 2]
    assert frame["units"].tolist() == [3, 2]
    assert frame["revenue"].tolist() == pytest.approx([25.50, 1244.50])
    assert frame["revenue"].sum() == pytest.approx(REVENUE)


def test_daily_engagement_is_one_row_per_day_and_type(marts: duckdb.DuckDBPyConnection) -> None:
    frame = queries.daily_engagement(marts)

    assert len(frame) == 6
    assert not frame.duplicated(["date_key", "event_type"]).any()
    assert frame.loc[frame["event_type"] == "view", "events"].tolist() == [6, 5]


def test_funnel_by_day_oldest_first(marts: duckdb.DuckDBPyConnection) -> None:
    frame = queries.funnel_by_day(marts)

    assert frame["viewed_sessions"].tolist() == [4, 3]
    assert frame["purchased_sessions"].sum() == PURCHASED


def test_top_products_rank_by_revenue_with_catalog_names(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    frame = queries.top_products(marts, limit=10)

    assert frame["product_id"].tolist() == ["p3", "p1", "p2"]
    assert frame["name"].tolist() == ["Bicycle", "Desk lamp", "Mug"]
    assert frame["orders"].tolist() == [1, 2, 1]
    assert frame["units"].tolist() == [1, 3, 1]
    assert frame["revenue"].tolist() == pytest.approx([1234.50, 30.00, 5.50])


def test_top_products_limit_and_a_product_missing_from_the_catalog(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    marts.execute(
        "INSERT INTO marts.fct_revenue VALUES"
        " ('o5', DATE '2026-11-02', 'u2', 'p9', 1, 5000.0, 5000.0)"
    )

    frame = queries.top_products(marts, limit=2)

    assert frame["product_id"].tolist() == ["p9", "p3"]
    assert frame["name"].tolist() == ["p9", "Bicycle"]  # no catalog row: the id stands in


def test_sensor_health_puts_silent_sensors_first(marts: duckdb.DuckDBPyConnection) -> None:
    frame = queries.sensor_health(marts)

    assert len(frame) == SENSORS
    silent, healthy = frame.to_dict("records")
    assert silent["sensor_id"] == "sensor-2"
    assert silent["days_silent"] == 1
    assert silent["readings"] == 8
    assert healthy["sensor_id"] == "sensor-1"
    assert healthy["days_silent"] == 0
    assert healthy["last_day_readings"] == 12
    assert (healthy["last_day_min"], healthy["last_day_avg"], healthy["last_day_max"]) == (
        17.0,
        19.0,
        21.0,
    )
    assert healthy["readings"] == 22


def test_sensor_readings_by_day_per_type(marts: duckdb.DuckDBPyConnection) -> None:
    frame = queries.sensor_readings_by_day(marts)

    assert frame[["sensor_type", "readings", "sensors"]].values.tolist() == [
        ["humidity", 8, 1],
        ["temperature", 10, 1],
        ["temperature", 12, 1],
    ]


def test_read_snapshot_reads_everything_and_lets_go_of_the_file(warehouse_file: Path) -> None:
    snapshot = queries.read_snapshot(warehouse_file, top_products_limit=2)

    assert snapshot.kpis.orders == ORDERS
    assert len(snapshot.top_products) == 2
    assert len(snapshot.sensor_health) == SENSORS
    # The file is closed again: a writer (the next dbt build) can open it.
    with duckdb.connect(str(warehouse_file)) as writer:
        writer.execute("DELETE FROM marts.fct_revenue")
    assert queries.read_snapshot(warehouse_file, 2).kpis.orders == 0


def test_a_missing_file_is_reported_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none.duckdb"

    with pytest.raises(WarehouseMissing, match="No warehouse yet"):
        queries.read_snapshot(path, 10)
    assert not path.exists()


def test_a_warehouse_without_the_marts_is_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()

    with pytest.raises(WarehouseIncomplete, match="lacks a table"):
        queries.read_snapshot(path, 10)
