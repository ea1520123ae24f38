"""The warehouse built by ``dbt build`` (every model and data test) over the seed lake: each mart
holds exactly what the seed's events say, computed in Python (warehouse_seed.Expected)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from polystream_common.schemas import (
    ChatMessage,
    Product,
    SensorReading,
    UserEventV2,
)

from .warehouse_seed import (
    INVALID_PRODUCTS,
    INVALID_SENSOR_READINGS,
    INVALID_USER_EVENTS,
    Expected,
    day_of,
)

WEIGHTS = {"view": 1.0, "click": 2.0, "add_to_cart": 3.0, "purchase": 5.0}


@pytest.fixture(scope="module")
def db(built_warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(built_warehouse), read_only=True)
    yield conn
    conn.close()


def rows(db: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return db.execute(sql).fetchall()


def test_models_land_in_the_contract_schemas(db: duckdb.DuckDBPyConnection) -> None:
    tables = {
        (schema, name)
        for schema, name in rows(
            db, "select table_schema, table_name from information_schema.tables"
        )
    }
    marts = {
        "dim_date",
        "dim_users",
        "dim_products",
        "fct_daily_engagement",
        "fct_funnel",
        "fct_revenue",
        "fct_sensor_daily",
        "data_quality_report",
    }
    streams = ("sensor_readings", "user_events", "chat_messages", "products")
    assert {("marts", m) for m in marts} <= tables
    assert {("staging", f"stg_{s}") for s in streams} <= tables
    assert {
        ("intermediate", i)
        for i in (
            "int_sessions",
            "int_user_journeys",
            "int_product_performance",
            "int_interaction_scores",
        )
    } <= tables


def test_revenue_is_the_sum_of_the_seeded_purchases(
    db: duckdb.DuckDBPyConnection, expected_seed: Expected
) -> None:
    by_day = dict(rows(db, "select date_key, sum(revenue) from marts.fct_revenue group by 1"))
    assert by_day.keys() == expected_seed.revenue_by_day().keys()
    for day, revenue in expected_seed.revenue_by_day().items():
        assert by_day[day] == pytest.approx(revenue, abs=1e-6)
    ids = {r[0] for r in rows(db, "select event_id from marts.fct_revenue")}
    assert ids == {str(e.event_id) for e in expected_seed.purchases}
    units = rows(db, "select sum(quantity) from marts.fct_revenue")[0][0]
    assert units == sum(e.quantity or 0 for e in expected_seed.purchases)


def test_funnel_counts_sessions_by_start_date(
    db: duckdb.DuckDBPyConnection, expected_seed: Expected
) -> None:
    funnel = {
        day: (viewed, carted, purchased)
        for day, viewed, carted, purchased in rows(
            db,
            "select date_key, viewed_sessions, carted_sessions, purchased_sessions "
            "from marts.fct_funnel",
        )
    }
    assert funnel == expected_seed.funnel_by_day()


def test_dashboard_kpis_match_the_seed(
    db: duckdb.DuckDBPyConnection, expected_kpis: dict[str, float]
) -> None:
    revenue, orders = rows(db, "select sum(revenue), count(*) from marts.fct_revenue")[0]
    (active,) = rows(db, "select count(distinct user_id) from staging.stg_user_events")[0]
    (conversion,) = rows(
        db, "select sum(purchased_sessions) / sum(viewed_sessions) from marts.fct_funnel"
    )[0]
    assert revenue == pytest.approx(expected_kpis["total_revenue"], abs=1e-6)
    assert orders == expected_kpis["orders"]
    assert active == expected_kpis["active_users"]
    assert conversion == pytest.approx(expected_kpis["conversion"], abs=1e-12)


def test_dim_users_has_one_row_per_user(
    db: duckdb.DuckDBPyConnection, expected_seed: Expected
) -> None:
    users = dict(rows(db, "select user_id, purchases from marts.dim_users"))
    assert users.keys() == expected_seed.users()
    purchases = Counter(e.user_id for e in expected_seed.purchases)
    assert {u: n for u, n in users.items() if n} == dict(purchases)


def test_v1_and_v2_user_events_are_read_together(
    db: duckdb.DuckDBPyConnection, expected_seed: Expected
) -> None:
    by_version = {
        version: (events, with_device)
        for version, events, with_device in rows(
            db,
            "select schema_version, count(*), count(device) from staging.stg_user_events "
            "group by 1",
        )
    }
    v2 = [e for e in expected_seed.user_events if isinstance(e, UserEventV2)]
    assert by_version == {
        1: (len(expected_seed.user_events) - len(v2), 0),
        2: (len(v2), sum(e.device is not None for e in v2)),
    }
    devices = dict(
        rows(db, "select event_id, device from staging.stg_user_events where schema_version = 2")
    )
    assert devices == {str(e.event_id): e.device for e in v2}


def test_duplicates_are_removed_and_counted(
    db: duckdb.DuckDBPyConnection, expected_seed: Expected
) -> None:
    assert expected_seed.duplicate_rows > 0
    total, distinct = rows(
        db, "select count(*), count(distinct event_id) from staging.stg_user_events"
    )[0]
    assert total == distinct == len(expected_seed.user_events)
    (dropped,) = rows(
        db,
        "select rows_dropped from marts.data_quality_report "
        "where stream = 'user_events' and reason = 'duplicate_event_id'",
    )[0]
    assert dropped == expected_seed.duplicate_rows


def test_invalid_rows_are_dropped_and_counted(
    db: duckdb.DuckDBPyConnection, expected_seed: Expected, built_warehouse: Path
) -> None:
    report: dict[str, dict[str, int]] = defaultdict(dict)
    for stream, reason, dropped in rows(
        db,
        "select stream, reason, rows_dropped from marts.data_quality_report "
        "where reason is not null",
    ):
        report[stream][reason] = dropped
    assert report == expected_seed.dropped
    kept = dict(rows(db, "select stream, rows_kept from marts.data_quality_report"))
    assert kept == {name: len(events) for name, events in expected_seed.events.items()}
    invalid_ids = {
        r[0]
        for r in rows(
            db,
            "select event_id from staging.base_user_events where dq_reason is not null "
            "and dq_reason <> 'duplicate_event_id'",
        )
    }
    assert len(invalid_ids) == len(INVALID_USER_EVENTS)
    for table in ("stg_user_events", "stg_sensor_readings", "stg_products"):
        (leaked,) = rows(db, f"select count(*) from staging.{table} where kafka_topic = 'invalid'")[
            0
        ]
        assert leaked == 0, table
    assert len(INVALID_SENSOR_READINGS) + len(INVALID_PRODUCTS) == sum(
        sum(reasons.values())
        for stream, reasons in expected_seed.dropped.items()
        if stream != "user_events"
    )

    written = json.loads((built_warehouse.parent / "dq_report.json").read_text())
    assert {s: r["dropped_by_reason"] for s, r in written["streams"].items()} == {
        s: expected_seed.dropped.get(s, {}) for s in expected_seed.events
    }
    assert {s: r["rows_kept"] for s, r in written["streams"].items()} == kept


def test_daily_engagement_counts_events_users_and_sessions(
    db: duckdb.DuckDBPyConnection, expected_seed: Expected
) -> None:
    groups: dict[tuple[date, str], list[Any]] = defaultdict(list)
    for e in expected_seed.user_events:
        groups[(day_of(e), e.event_type)].append(e)
    want = {
        key: (len(es), len({e.user_id for e in es}), len({e.session_id for e in es}))
        for key, es in groups.items()
    }
    got = {
        (day, kind): (events, users, sessions)
        for day, kind, events, users, sessions in rows(
            db,
            "select date_key, event_type, events, users, sessions from marts.fct_daily_engagement",
        )
    }
    assert got == want


def test_sensor_daily_aggregates_each_sensors_readings(
    db: duckdb.DuckDBPyConnection, expected_seed: Expected
) -> None:
    groups: dict[tuple[date, str], list[float]] = defaultdict(list)
    for e in expected_seed.events["sensor_readings"]:
        assert isinstance(e, SensorReading)
        groups[(day_of(e), e.sensor_id)].append(e.value)
    got = {
        (day, sensor): (n, lo, hi)
        for day, sensor, n, lo, hi in rows(
            db,
            "select date_key, sensor_id, readings, min_value, max_value "
            "from marts.fct_sensor_daily",
        )
    }
    assert got == {key: (len(v), min(v), max(v)) for key, v in groups.items()}


def test_dim_products_holds_each_products_latest_record(
    db: duckdb.DuckDBPyConnection, expected_seed: Expected
) -> None:
    latest: dict[str, Product] = {}
    for e in expected_seed.events["products"]:
        assert isinstance(e, Product)
        latest[e.product_id] = e  # the seed's event times only grow
    got = {
        product: (name, price)
        for product, name, price in rows(
            db, "select product_id, name, price from marts.dim_products where not is_inferred"
        )
    }
    assert got == {p: (e.name, e.price) for p, e in latest.items()}
    referenced = {e.product_id for e in expected_seed.user_events if e.product_id} | {
        e.product_id
        for e in expected_seed.events["chat_messages"]
        if isinstance(e, ChatMessage) and e.product_id
    }
    inferred = {
        r[0] for r in rows(db, "select product_id from marts.dim_products where is_inferred")
    }
    assert inferred == referenced - latest.keys()


def test_interaction_scores_weigh_each_event_type(
    db: duckdb.DuckDBPyConnection, expected_seed: Expected
) -> None:
    want: dict[tuple[str, str], float] = defaultdict(float)
    for e in expected_seed.user_events:
        if e.product_id:
            want[(e.user_id, e.product_id)] += WEIGHTS.get(e.event_type, 0.0)
    got = {
        (user, product): score
        for user, product, score in rows(
            db, "select user_id, product_id, score from intermediate.int_interaction_scores"
        )
    }
    assert got.keys() == want.keys()
    assert all(got[k] == pytest.approx(v) for k, v in want.items())
