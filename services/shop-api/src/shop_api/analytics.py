"""Sales analytics in SQL (seed 001): revenue by day and category with window functions and
CTEs, and customer lifetime value. Behind the API key."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Final

import asyncpg
from fastapi import APIRouter, Query
from pydantic import BaseModel

from polystream_common.cli import time_window
from polystream_web.errors import invalid_parameters
from polystream_web.security import ApiKeyDep
from shop_api.deps import PoolDep
from shop_api.routes import documented

REVENUE_BY_DAY_AND_CATEGORY_SQL: Final = """
WITH lines AS (
    SELECT (o.placed_at AT TIME ZONE 'UTC')::date AS day,
           coalesce(p.category, 'unknown') AS category,
           o.order_id,
           i.quantity * i.unit_price AS revenue
    FROM orders o
    JOIN order_items i USING (order_id)
    LEFT JOIN products p USING (product_id)
    WHERE o.placed_at >= $1 AND o.placed_at < $2
),
daily AS (
    SELECT day, category, sum(revenue) AS revenue, count(DISTINCT order_id) AS orders
    FROM lines
    GROUP BY day, category
)
SELECT day,
       category,
       revenue,
       orders,
       sum(revenue) OVER (PARTITION BY category ORDER BY day
                          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_revenue,
       rank() OVER (PARTITION BY category ORDER BY revenue DESC) AS rank_in_category,
       rank() OVER (PARTITION BY day ORDER BY revenue DESC) AS rank_in_day,
       round(revenue / sum(revenue) OVER (PARTITION BY day), 4) AS share_of_day
FROM daily
ORDER BY day, category
"""
"""One row per UTC day and category: its revenue and orders, the category's running total over
the days, the day's rank within its category (1 = its best day) and the category's rank and share
within the day."""

CUSTOMER_LIFETIME_VALUE_SQL: Final = """
WITH per_customer AS (
    SELECT customer_id,
           count(*) AS orders,
           sum(total) AS lifetime_value,
           min(placed_at) AS first_order_at,
           max(placed_at) AS last_order_at
    FROM orders
    GROUP BY customer_id
)
SELECT customer_id,
       orders,
       lifetime_value,
       round(lifetime_value / orders, 2) AS average_order_value,
       first_order_at,
       last_order_at,
       rank() OVER (ORDER BY lifetime_value DESC) AS rank,
       round(sum(lifetime_value) OVER (ORDER BY lifetime_value DESC, customer_id
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
             / nullif(sum(lifetime_value) OVER (), 0), 4) AS cumulative_share
FROM per_customer
ORDER BY lifetime_value DESC, customer_id
LIMIT $1
"""
"""The customers who spent most: orders, lifetime value (sum of their orders' totals), average
order, first and last order, rank and the cumulative share of all revenue (a Pareto curve)."""


class RevenueRow(BaseModel):
    day: date
    category: str
    revenue: Decimal
    orders: int
    running_revenue: Decimal
    rank_in_category: int
    rank_in_day: int
    share_of_day: Decimal


class LifetimeValueRow(BaseModel):
    customer_id: str
    orders: int
    lifetime_value: Decimal
    average_order_value: Decimal
    first_order_at: datetime
    last_order_at: datetime
    rank: int
    cumulative_share: Decimal | None


async def revenue_by_day_and_category(
    conn: asyncpg.Pool | asyncpg.Connection, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(REVENUE_BY_DAY_AND_CATEGORY_SQL, since, until)]


async def customer_lifetime_value(
    conn: asyncpg.Pool | asyncpg.Connection, limit: int
) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(CUSTOMER_LIFETIME_VALUE_SQL, limit)]


router = APIRouter(prefix="/analytics", tags=["analytics"], dependencies=[ApiKeyDep])


@router.get("/revenue", response_model=list[RevenueRow], responses=documented(401))
async def revenue(
    pool: PoolDep,
    since: Annotated[datetime | None, Query(description="inclusive; default: 30 days ago")] = None,
    until: Annotated[datetime | None, Query(description="exclusive; default: now")] = None,
) -> list[RevenueRow]:
    """Revenue by UTC day and category, with running totals and ranks."""
    if (since and since.tzinfo is None) or (until and until.tzinfo is None):
        raise invalid_parameters("times need a UTC offset", "query")
    start, end = time_window(since, until, timedelta(days=30))
    if start >= end:
        raise invalid_parameters("since must be before until", "query", "since")
    return [RevenueRow(**r) for r in await revenue_by_day_and_category(pool, start, end)]


@router.get(
    "/customer-lifetime-value", response_model=list[LifetimeValueRow], responses=documented(401)
)
async def lifetime_value(
    pool: PoolDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[LifetimeValueRow]:
    """The customers with the highest lifetime value."""
    return [LifetimeValueRow(**r) for r in await customer_lifetime_value(pool, limit)]
