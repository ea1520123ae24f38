"""Behaviour analytics over ``user_events``: aggregation pipelines and the coroutines running them.

Every window is ``[since, until)`` on ``event_time``; days are UTC calendar days. The pipelines
use only stages and operators of MongoDB 7 that the local stack's server also runs (see
deploy/local/mongo/README.md): ``$match $group $sort $limit $project``, ``$sum $cond $eq $gt
$divide $multiply $ifNull $dateToString``. v1 and v2 events count alike: nothing here reads a
field that only one schema version has.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

from polystream_readmodels.collections import USER_EVENTS_COLLECTION

Pipeline = list[dict[str, Any]]
FunnelGroup = Literal["day", "campaign"]

FUNNEL_STEPS: tuple[tuple[str, str], ...] = (
    ("views", "view"),
    ("clicks", "click"),
    ("add_to_cart", "add_to_cart"),
    ("purchases", "purchase"),
)
"""(output field, event_type) of each funnel step, in order."""

DAY = {"$dateToString": {"format": "%Y-%m-%d", "date": "$event_time"}}


def _window(since: datetime, until: datetime) -> dict[str, Any]:
    return {"event_time": {"$gte": since, "$lt": until}}


def _count_if_type(event_type: str) -> dict[str, Any]:
    return {"$sum": {"$cond": [{"$eq": ["$event_type", event_type]}, 1, 0]}}


def _ratio(numerator: str, denominator: str) -> dict[str, Any]:
    """numerator / denominator, or null where the denominator is 0."""
    return {
        "$cond": [
            {"$gt": [f"${denominator}", 0]},
            {"$divide": [f"${numerator}", f"${denominator}"]},
            None,
        ]
    }


def events_per_type_per_day_pipeline(since: datetime, until: datetime) -> Pipeline:
    """Rows ``{day, event_type, events}`` ordered by day, then type."""
    return [
        {"$match": _window(since, until)},
        {"$group": {"_id": {"day": DAY, "event_type": "$event_type"}, "events": {"$sum": 1}}},
        {"$sort": {"_id.day": 1, "_id.event_type": 1}},
        {"$project": {"_id": 0, "day": "$_id.day", "event_type": "$_id.event_type", "events": 1}},
    ]


def funnel_pipeline(since: datetime, until: datetime, by: FunnelGroup = "day") -> Pipeline:
    """Rows of event counts per funnel step (view -> click -> add_to_cart -> purchase), each
    step's conversion from the one before, overall conversion and purchase revenue, per UTC day
    or per campaign (events without a campaign are left out of the latter)."""
    match = _window(since, until)
    match["event_type"] = {"$in": [event_type for _, event_type in FUNNEL_STEPS]}
    key: Any = DAY
    if by == "campaign":
        match["campaign_id"] = {"$ne": None}
        key = "$campaign_id"
    revenue = {
        "$cond": [
            {"$eq": ["$event_type", "purchase"]},
            {"$multiply": [{"$ifNull": ["$price", 0]}, {"$ifNull": ["$quantity", 1]}]},
            0,
        ]
    }
    group: dict[str, Any] = {"_id": key}
    group.update({field: _count_if_type(event_type) for field, event_type in FUNNEL_STEPS})
    group["revenue"] = {"$sum": revenue}
    label = "day" if by == "day" else "campaign_id"
    return [
        {"$match": match},
        {"$group": group},
        {"$sort": {"_id": 1}},
        {
            "$project": {
                "_id": 0,
                label: "$_id",
                **{field: 1 for field, _ in FUNNEL_STEPS},
                "click_rate": _ratio("clicks", "views"),
                "cart_rate": _ratio("add_to_cart", "clicks"),
                "purchase_rate": _ratio("purchases", "add_to_cart"),
                "conversion_rate": _ratio("purchases", "views"),
                "revenue": 1,
            }
        },
    ]


def top_products_pipeline(since: datetime, until: datetime, limit: int = 10) -> Pipeline:
    """The ``limit`` products with the most interactions (events naming a product) in the window,
    with their count per funnel step; ties go to the smaller product id."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    group: dict[str, Any] = {"_id": "$product_id", "interactions": {"$sum": 1}}
    group.update({field: _count_if_type(event_type) for field, event_type in FUNNEL_STEPS})
    return [
        {"$match": {**_window(since, until), "product_id": {"$ne": None}}},
        {"$group": group},
        {"$sort": {"interactions": -1, "_id": 1}},
        {"$limit": limit},
        {
            "$project": {
                "_id": 0,
                "product_id": "$_id",
                "interactions": 1,
                **{field: 1 for field, _ in FUNNEL_STEPS},
            }
        },
    ]


ACTIVITY_FIELDS = (
    "event_time",
    "event_type",
    "session_id",
    "product_id",
    "campaign_id",
    "price",
    "quantity",
    "device",
    "schema_version",
)


def recent_activity_pipeline(
    user_id: str, limit: int = 20, since: datetime | None = None
) -> Pipeline:
    """A user's latest ``limit`` events, newest first; fields an event lacks are left out."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    match: dict[str, Any] = {"user_id": user_id}
    if since is not None:
        match["event_time"] = {"$gte": since}
    return [
        {"$match": match},
        {"$sort": {"event_time": -1, "_id": -1}},
        {"$limit": limit},
        {"$project": {"_id": 0, "event_id": "$_id", **dict.fromkeys(ACTIVITY_FIELDS, 1)}},
    ]


async def _run(db: AsyncDatabase[dict[str, Any]], pipeline: Pipeline) -> list[dict[str, Any]]:
    cursor = await db[USER_EVENTS_COLLECTION.name].aggregate(pipeline)
    return await cursor.to_list()


async def events_per_type_per_day(
    db: AsyncDatabase[dict[str, Any]], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Number of events of each type on each UTC day of ``[since, until)``."""
    return await _run(db, events_per_type_per_day_pipeline(since, until))


async def conversion_funnel(
    db: AsyncDatabase[dict[str, Any]], since: datetime, until: datetime, by: FunnelGroup = "day"
) -> list[dict[str, Any]]:
    """The view -> click -> add_to_cart -> purchase funnel per UTC day or per campaign."""
    return await _run(db, funnel_pipeline(since, until, by))


async def top_products(
    db: AsyncDatabase[dict[str, Any]], since: datetime, until: datetime, limit: int = 10
) -> list[dict[str, Any]]:
    """The products with the most interactions in ``[since, until)``."""
    return await _run(db, top_products_pipeline(since, until, limit))


async def recent_activity(
    db: AsyncDatabase[dict[str, Any]], user_id: str, limit: int = 20, since: datetime | None = None
) -> list[dict[str, Any]]:
    """A user's most recent events, newest first."""
    return await _run(db, recent_activity_pipeline(user_id, limit, since))
