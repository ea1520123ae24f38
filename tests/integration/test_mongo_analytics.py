"""Behaviour analytics against the real MongoDB wire-protocol server of the local stack, on a
known data set of v1 and v2 user events written through MongoSink; exact expected numbers."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from event_consumer.main import main
from event_consumer.mongo import MongoConnection, MongoSink
from polystream_common.schemas import AnyUserEvent, UserEventV1, UserEventV2
from polystream_common.settings import MongoSettings
from polystream_common.sink import SinkRecord
from polystream_readmodels import behaviour
from polystream_readmodels.collections import USER_EVENTS_COLLECTION

pytestmark = pytest.mark.integration

D1 = datetime(2026, 3, 1, tzinfo=UTC)
D2 = D1 + timedelta(days=1)
D3 = D1 + timedelta(days=2)

# (at, user, event_type, product, campaign, version, device, price, quantity)
DATA_SET: list[tuple[datetime, str, str, str | None, str | None, int, str | None, Any, Any]] = [
    (D1 + timedelta(hours=10), "u1", "view", "p1", "camp-A", 1, None, None, None),
    (D1 + timedelta(hours=10, minutes=1), "u1", "click", "p1", "camp-A", 1, None, None, None),
    (D1 + timedelta(hours=10, minutes=2), "u1", "add_to_cart", "p1", "camp-A", 1, None, None, None),
    (D1 + timedelta(hours=10, minutes=3), "u1", "purchase", "p1", "camp-A", 1, None, 10.0, 2),
    (D1 + timedelta(hours=11), "u2", "view", "p2", None, 2, "ios", None, None),
    (D1 + timedelta(hours=11, minutes=5), "u2", "view", "p1", None, 2, "ios", None, None),
    (D1 + timedelta(hours=11, minutes=6), "u2", "click", "p2", None, 2, None, None, None),
    (D2 - timedelta(milliseconds=500), "u3", "campaign_view", None, "camp-B", 1, None, None, None),
    (D2, "u3", "campaign_click", None, "camp-B", 2, "web", None, None),
    (D2 + timedelta(minutes=1), "u3", "view", "p3", "camp-B", 2, "web", None, None),
    (D2 + timedelta(minutes=2), "u3", "view", "p2", "camp-B", 1, None, None, None),
    (D2 + timedelta(minutes=3), "u3", "click", "p3", "camp-B", 2, "android", None, None),
    (D2 + timedelta(minutes=4), "u3", "add_to_cart", "p3", "camp-B", 2, "android", None, None),
    (D2 + timedelta(minutes=5), "u3", "purchase", "p3", "camp-B", 2, "android", 2.5, 3),
    (D2 + timedelta(hours=9), "u1", "view", "p2", None, 1, None, None, None),
    (D3, "u1", "view", "p1", None, 1, None, None, None),  # outside [D1, D3)
]


def build(row: tuple[Any, ...], i: int) -> AnyUserEvent:
    at, user, event_type, product, campaign, version, device, price, quantity = row
    fields = {
        "event_id": uuid.UUID(int=i + 1),
        "event_time": at,
        "user_id": user,
        "session_id": f"sess-{user}",
        "event_type": event_type,
        "product_id": product,
        "campaign_id": campaign,
        "price": price,
        "quantity": quantity,
    }
    if version == 2:
        return UserEventV2(**fields, device=device)
    return UserEventV1(**fields)


EVENTS = [build(row, i) for i, row in enumerate(DATA_SET)]


@pytest.fixture(scope="module")
async def mongo_settings(mongo_url: str) -> AsyncIterator[MongoSettings]:
    """The data set, in a database of its own: v1 events in one batch, v2 in another."""
    settings = MongoSettings(url=mongo_url, database=f"test_analytics_{uuid.uuid4().hex[:12]}")
    sink = MongoSink[AnyUserEvent](MongoConnection(settings), USER_EVENTS_COLLECTION)
    await sink.setup()
    for version in (1, 2):
        batch = [
            SinkRecord(e, "user.events", 0, i)
            for i, e in enumerate(EVENTS)
            if e.schema_version == version
        ]
        assert await sink.write(batch) == []
    await sink.close()
    yield settings
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    await client.drop_database(settings.database)
    await client.close()


@pytest.fixture
async def db(mongo_settings: MongoSettings) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    async with MongoConnection(mongo_settings).database() as database:
        yield database


async def test_events_per_type_per_day(db: AsyncDatabase[dict[str, Any]]) -> None:
    rows = await behaviour.events_per_type_per_day(db, D1, D3)
    assert rows == [
        {"day": "2026-03-01", "event_type": "add_to_cart", "events": 1},
        {"day": "2026-03-01", "event_type": "campaign_view", "events": 1},
        {"day": "2026-03-01", "event_type": "click", "events": 2},
        {"day": "2026-03-01", "event_type": "purchase", "events": 1},
        {"day": "2026-03-01", "event_type": "view", "events": 3},
        {"day": "2026-03-02", "event_type": "add_to_cart", "events": 1},
        {"day": "2026-03-02", "event_type": "campaign_click", "events": 1},
        {"day": "2026-03-02", "event_type": "click", "events": 1},
        {"day": "2026-03-02", "event_type": "purchase", "events": 1},
        {"day": "2026-03-02", "event_type": "view", "events": 3},
    ]


async def test_funnel_per_day(db: AsyncDatabase[dict[str, Any]]) -> None:
    rows = await behaviour.conversion_funnel(db, D1, D3, by="day")
    assert rows == [
        {
            "day": "2026-03-01",
            "views": 3,
            "clicks": 2,
            "add_to_cart": 1,
            "purchases": 1,
            "click_rate": 2 / 3,
            "cart_rate": 1 / 2,
            "purchase_rate": 1.0,
            "conversion_rate": 1 / 3,
            "revenue": 20.0,
        },
        {
            "day": "2026-03-02",
            "views": 3,
            "clicks": 1,
            "add_to_cart": 1,
            "purchases": 1,
            "click_rate": 1 / 3,
            "cart_rate": 1.0,
            "purchase_rate": 1.0,
            "conversion_rate": 1 / 3,
            "revenue": 7.5,
        },
    ]


async def test_funnel_per_campaign(db: AsyncDatabase[dict[str, Any]]) -> None:
    rows = await behaviour.conversion_funnel(db, D1, D3, by="campaign")
    assert rows == [
        {
            "campaign_id": "camp-A",
            "views": 1,
            "clicks": 1,
            "add_to_cart": 1,
            "purchases": 1,
            "click_rate": 1.0,
            "cart_rate": 1.0,
            "purchase_rate": 1.0,
            "conversion_rate": 1.0,
            "revenue": 20.0,
        },
        {
            "campaign_id": "camp-B",
            "views": 2,
            "clicks": 1,
            "add_to_cart": 1,
            "purchases": 1,
            "click_rate": 0.5,
            "cart_rate": 1.0,
            "purchase_rate": 1.0,
            "conversion_rate": 0.5,
            "revenue": 7.5,
        },
    ]


async def test_funnel_of_a_day_without_clicks_has_null_rates(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    rows = await behaviour.conversion_funnel(db, D2 + timedelta(hours=1), D3, by="day")
    assert rows == [
        {
            "day": "2026-03-02",
            "views": 1,
            "clicks": 0,
            "add_to_cart": 0,
            "purchases": 0,
            "click_rate": 0.0,
            "cart_rate": None,
            "purchase_rate": None,
            "conversion_rate": 0.0,
            "revenue": 0,
        }
    ]


async def test_top_products(db: AsyncDatabase[dict[str, Any]]) -> None:
    rows = await behaviour.top_products(db, D1, D3, limit=10)
    assert rows == [
        {"product_id": "p1", "interactions": 5, "views": 2, "clicks": 1, "add_to_cart": 1,
         "purchases": 1},
        # p2 and p3 tie on 4: the smaller id first
        {"product_id": "p2", "interactions": 4, "views": 3, "clicks": 1, "add_to_cart": 0,
         "purchases": 0},
        {"product_id": "p3", "interactions": 4, "views": 1, "clicks": 1, "add_to_cart": 1,
         "purchases": 1},
    ]  # fmt: skip
    assert [r["product_id"] for r in await behaviour.top_products(db, D1, D3, limit=2)] == [
        "p1",
        "p2",
    ]
    second_day = await behaviour.top_products(db, D2, D3, limit=10)
    assert [(r["product_id"], r["interactions"]) for r in second_day] == [("p3", 4), ("p2", 2)]


async def test_recent_activity_mixes_v1_and_v2(db: AsyncDatabase[dict[str, Any]]) -> None:
    u3 = await behaviour.recent_activity(db, "u3", limit=3)
    assert u3 == [
        {
            "event_id": str(EVENTS[13].event_id),
            "event_time": D2 + timedelta(minutes=5),
            "event_type": "purchase",
            "session_id": "sess-u3",
            "product_id": "p3",
            "campaign_id": "camp-B",
            "price": 2.5,
            "quantity": 3,
            "device": "android",
            "schema_version": 2,
        },
        {
            "event_id": str(EVENTS[12].event_id),
            "event_time": D2 + timedelta(minutes=4),
            "event_type": "add_to_cart",
            "session_id": "sess-u3",
            "product_id": "p3",
            "campaign_id": "camp-B",
            "device": "android",
            "schema_version": 2,
        },
        {
            "event_id": str(EVENTS[11].event_id),
            "event_time": D2 + timedelta(minutes=3),
            "event_type": "click",
            "session_id": "sess-u3",
            "product_id": "p3",
            "campaign_id": "camp-B",
            "device": "android",
            "schema_version": 2,
        },
    ]
    u3_all = await behaviour.recent_activity(db, "u3", limit=20)
    assert [(r["event_type"], r["schema_version"], r.get("device")) for r in u3_all] == [
        ("purchase", 2, "android"),
        ("add_to_cart", 2, "android"),
        ("click", 2, "android"),
        ("view", 1, None),
        ("view", 2, "web"),
        ("campaign_click", 2, "web"),
        ("campaign_view", 1, None),
    ]
    u1 = await behaviour.recent_activity(db, "u1", limit=2)
    assert [(r["event_type"], r["product_id"], r["event_time"]) for r in u1] == [
        ("view", "p1", D3),
        ("view", "p2", D2 + timedelta(hours=9)),
    ]
    assert all("device" not in r for r in u1)
    since = await behaviour.recent_activity(db, "u2", since=D1 + timedelta(hours=11, minutes=1))
    assert [r["event_type"] for r in since] == ["click", "view"]
    assert [r.get("device") for r in since] == [None, "ios"]  # a v2 event may lack device


def test_cli_prints_json(
    mongo_settings: MongoSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EVENT_CONSUMER_MONGO__URL", mongo_settings.url.get_secret_value())
    monkeypatch.setenv("EVENT_CONSUMER_MONGO__DATABASE", mongo_settings.database)
    with pytest.raises(SystemExit) as exited:
        main(["analytics", "top-products", "--since", D1.isoformat(), "--until", D3.isoformat(),
              "--limit", "1"])  # fmt: skip
    assert exited.value.code == 0
    assert json.loads(capsys.readouterr().out) == [
        {"product_id": "p1", "interactions": 5, "views": 2, "clicks": 1, "add_to_cart": 1,
         "purchases": 1}
    ]  # fmt: skip
