"""The analytics pipelines, as built: stage order, windows and groupings (no server; the numbers
are checked against the real server in tests/integration/test_mongo_analytics.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from polystream_readmodels import behaviour

SINCE = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = datetime(2026, 3, 8, tzinfo=UTC)
WINDOW = {"event_time": {"$gte": SINCE, "$lt": UNTIL}}
# Operators MongoDB 7 has and the local stack's server runs too (deploy/local/mongo/README.md).
ALLOWED = {
    "$match", "$group", "$sort", "$limit", "$project", "$sum", "$cond", "$eq", "$gt", "$gte",
    "$lt", "$ne", "$in", "$divide", "$multiply", "$ifNull", "$dateToString",
}  # fmt: skip


def stages(pipeline: list[dict[str, Any]]) -> list[str]:
    return [next(iter(stage)) for stage in pipeline]


def operators(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {k for k in node if k.startswith("$")}
        for value in node.values():
            found |= operators(value)
        return found
    if isinstance(node, list):
        return set().union(*(operators(v) for v in node)) if node else set()
    return set()


def test_events_per_type_per_day() -> None:
    pipeline = behaviour.events_per_type_per_day_pipeline(SINCE, UNTIL)
    assert stages(pipeline) == ["$match", "$group", "$sort", "$project"]
    assert pipeline[0]["$match"] == WINDOW
    assert pipeline[1]["$group"]["_id"] == {
        "day": {"$dateToString": {"format": "%Y-%m-%d", "date": "$event_time"}},
        "event_type": "$event_type",
    }
    assert pipeline[2]["$sort"] == {"_id.day": 1, "_id.event_type": 1}


def test_funnel_per_day_counts_the_four_steps() -> None:
    pipeline = behaviour.funnel_pipeline(SINCE, UNTIL, by="day")
    assert stages(pipeline) == ["$match", "$group", "$sort", "$project"]
    assert pipeline[0]["$match"] == {
        **WINDOW,
        "event_type": {"$in": ["view", "click", "add_to_cart", "purchase"]},
    }
    group = pipeline[1]["$group"]
    assert group["_id"] == behaviour.DAY
    assert group["clicks"] == {"$sum": {"$cond": [{"$eq": ["$event_type", "click"]}, 1, 0]}}
    assert list(group) == ["_id", "views", "clicks", "add_to_cart", "purchases", "revenue"]
    project = pipeline[3]["$project"]
    assert project["day"] == "$_id"
    assert project["conversion_rate"] == {
        "$cond": [{"$gt": ["$views", 0]}, {"$divide": ["$purchases", "$views"]}, None]
    }


def test_funnel_per_campaign_leaves_out_events_without_one() -> None:
    pipeline = behaviour.funnel_pipeline(SINCE, UNTIL, by="campaign")
    assert pipeline[0]["$match"]["campaign_id"] == {"$ne": None}
    assert pipeline[1]["$group"]["_id"] == "$campaign_id"
    assert pipeline[3]["$project"]["campaign_id"] == "$_id"
    assert "day" not in pipeline[3]["$project"]


def test_top_products() -> None:
    pipeline = behaviour.top_products_pipeline(SINCE, UNTIL, limit=5)
    assert stages(pipeline) == ["$match", "$group", "$sort", "$limit", "$project"]
    assert pipeline[0]["$match"] == {**WINDOW, "product_id": {"$ne": None}}
    assert pipeline[1]["$group"]["_id"] == "$product_id"
    assert pipeline[2]["$sort"] == {"interactions": -1, "_id": 1}
    assert pipeline[3] == {"$limit": 5}


def test_recent_activity() -> None:
    pipeline = behaviour.recent_activity_pipeline("u1", limit=3, since=SINCE)
    assert stages(pipeline) == ["$match", "$sort", "$limit", "$project"]
    assert pipeline[0]["$match"] == {"user_id": "u1", "event_time": {"$gte": SINCE}}
    assert pipeline[1]["$sort"] == {"event_time": -1, "_id": -1}
    assert pipeline[3]["$project"]["event_id"] == "$_id"
    assert pipeline[3]["$project"]["device"] == 1
    assert "event_time" not in behaviour.recent_activity_pipeline("u1")[0]["$match"]


@pytest.mark.parametrize(
    "build",
    [
        lambda: behaviour.top_products_pipeline(SINCE, UNTIL, limit=0),
        lambda: behaviour.recent_activity_pipeline("u1", limit=0),
    ],
)
def test_a_limit_below_one_is_refused(build: Any) -> None:
    with pytest.raises(ValueError, match="limit"):
        build()


def test_only_operators_both_servers_run() -> None:
    pipelines = [
        behaviour.events_per_type_per_day_pipeline(SINCE, UNTIL),
        behaviour.funnel_pipeline(SINCE, UNTIL, "day"),
        behaviour.funnel_pipeline(SINCE, UNTIL, "campaign"),
        behaviour.top_products_pipeline(SINCE, UNTIL),
        behaviour.recent_activity_pipeline("u1", since=SINCE),
    ]
    assert set().union(*(operators(p) for p in pipelines)) <= ALLOWED
