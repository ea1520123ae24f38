"""The embedder's sinks with the real model and the real Milvus server: a user who chats about
running and views running products gets a profile nearer running products than anything else;
similar users are found by profile; a product's vectors and deletes land in Milvus.

The sinks are driven directly (the consumer loop around them is tested on fakes and end to end);
the collections are the test's own, under a prefix, dropped after."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from embedder.bootstrap import bootstrap, collection_specs
from embedder.settings import EmbedderSettings
from polystream_common.schemas import ChatMessage, Event, Product, UserEventV1
from polystream_common.sink import Deletion, Sink, SinkRecord
from polystream_common.topics import CHAT_MESSAGES, PRODUCTS, USER_EVENTS
from polystream_embeddings.settings import EmbeddingSettings
from polystream_vectors import semantic
from polystream_vectors.milvus import MilvusVectorStore
from polystream_vectors.settings import MilvusSettings
from polystream_vectors.store import point_id

T0 = datetime(2026, 11, 20, tzinfo=UTC)

CATALOG: dict[str, list[tuple[str, str]]] = {
    "running": [
        ("Cloudstride 3", "Lightweight trainers for road races and daily jogging miles."),
        ("Pacer Elite", "Cushioned sneakers built for long-distance runners and marathons."),
        ("Trail Dash", "Grippy off-road running shoes for muddy forest trails."),
        ("Tempo Shorts", "Breathable split shorts for sprint intervals on the track."),
        ("Stride Watch", "GPS watch that tracks pace, cadence and heart rate while you run."),
    ],
    "kitchen": [
        ("Chef Knife 8in", "Forged steel blade for slicing vegetables and meat."),
        ("Cast Iron Skillet", "Heavy pan that sears steaks and bakes cornbread."),
        ("Stand Mixer", "Kneads dough and whips cream for home bakers."),
        ("Pressure Cooker", "Cooks stews, beans and rice in a fraction of the time."),
        ("Spice Rack", "Holds twenty jars of herbs and seasonings."),
    ],
    "gaming": [
        ("Mech Keyboard", "Clicky switches and RGB lighting for competitive gamers."),
        ("Pro Controller", "Wireless gamepad with trigger stops for shooters."),
        ("Headset X", "Surround sound headphones with a boom mic for team chat in games."),
        ("Gaming Mouse", "16k DPI sensor and programmable buttons for esports."),
        ("Console Stand", "Cooling dock that charges two controllers."),
    ],
    "garden": [
        ("Hose Reel", "Winds 50 metres of garden hose neatly."),
        ("Pruning Shears", "Bypass secateurs for roses and shrubs."),
        ("Seed Starter Kit", "Trays and domes for sprouting tomatoes and herbs indoors."),
        ("Compost Bin", "Turns food scraps and fallen leaves into rich soil."),
        ("Lawn Mower", "Cordless mower for small lawns."),
    ],
}


def products() -> list[Product]:
    out = []
    for category, items in CATALOG.items():
        for i, (name, description) in enumerate(items):
            out.append(
                Product(
                    event_id=uuid.uuid4(),
                    event_time=T0,
                    product_id=f"{category}-{i}",
                    name=name,
                    description=description,
                    category=category,
                    price=20.0 + i,
                )
            )
    return out


def chat(user: str, text: str, minutes: int) -> ChatMessage:
    return ChatMessage(
        event_id=uuid.uuid4(),
        event_time=T0 + timedelta(minutes=minutes),
        user_id=user,
        conversation_id=f"c-{user}",
        text=text,
    )


def view(user: str, product_id: str, minutes: int, kind: str = "view") -> UserEventV1:
    return UserEventV1.model_validate(
        {
            "event_id": uuid.uuid4(),
            "event_time": T0 + timedelta(minutes=minutes),
            "user_id": user,
            "session_id": "s",
            "event_type": kind,
            "product_id": product_id,
        }
    )


def records(topic: str, events: Sequence[Event], start: int = 0) -> list[SinkRecord[Any]]:
    return [SinkRecord(e, topic, 0, start + i) for i, e in enumerate(events)]


@pytest.fixture
async def sinks(stack: dict[str, str], model_dir: Any) -> AsyncIterator[dict[str, Sink[Any]]]:
    prefix = f"test_{uuid.uuid4().hex[:8]}_"
    uri = f"http://127.0.0.1:{stack['MILVUS_PORT']}"
    settings = EmbedderSettings(
        milvus=MilvusSettings(uri=uri),
        collection_prefix=prefix,
        embedding=EmbeddingSettings(model_dir=model_dir, backend="onnx"),
        metrics_port=0,
    )
    routes = bootstrap(settings)
    by_topic = {route.stream.topic: route.sink for route in routes}
    for sink in by_topic.values():
        await sink.setup()
    yield by_topic
    for sink in by_topic.values():
        await sink.close()
    async with MilvusVectorStore(MilvusSettings(uri=uri)) as store:
        for name in await store.client.list_collections():
            if name.startswith(prefix):
                await store.client.drop_collection(name)


@pytest.fixture
async def milvus(stack: dict[str, str], sinks: dict[str, Any]) -> AsyncIterator[MilvusVectorStore]:
    """A client of the test's own onto the collections the sinks write (opened by them)."""
    prefix = sinks[PRODUCTS.topic]._collection.removesuffix("products")
    async with MilvusVectorStore(
        MilvusSettings(uri=f"http://127.0.0.1:{stack['MILVUS_PORT']}")
    ) as store:
        for spec in collection_specs(EmbedderSettings(collection_prefix=prefix)).values():
            await store.ensure_collection(spec)
        yield store


async def test_a_runner_profile_is_nearest_running_products_and_similar_users_are_runners(
    sinks: dict[str, Any], milvus: MilvusVectorStore
) -> None:
    catalog = products()
    prefix = sinks[PRODUCTS.topic]._collection.removesuffix("products")
    await sinks[PRODUCTS.topic].write(records(PRODUCTS.topic, catalog))
    chats = [
        chat("runner-1", "Which trainers are best for my first half marathon?", 0),
        chat("runner-1", "I jog every morning, my knees hurt on asphalt", 5),
        chat("runner-2", "Looking for something light to race a 10k in", 1),
        chat("cook-1", "What pan gives the best crust on a ribeye?", 2),
        chat("cook-1", "My bread dough never rises properly", 3),
    ]
    await sinks[CHAT_MESSAGES.topic].write(records(CHAT_MESSAGES.topic, chats))
    events = [
        view("runner-1", "running-0", 10),
        view("runner-1", "running-2", 11, "add_to_cart"),
        view("runner-2", "running-1", 12, "purchase"),
        view("cook-1", "kitchen-1", 13),
        view("cook-1", "kitchen-2", 14, "purchase"),
        view("gamer-1", "gaming-0", 15, "purchase"),
        view("gamer-1", "gaming-3", 16),
    ]
    events_sink = sinks[USER_EVENTS.topic]
    await events_sink.write(records(USER_EVENTS.topic, events))
    # Delivered again (a crash before the commit): nothing counts twice.
    await events_sink.write(records(USER_EVENTS.topic, events))

    profiles = await milvus.retrieve(
        f"{prefix}user_profiles", [point_id(u) for u in ("runner-1", "runner-2", "cook-1")]
    )
    runner = profiles[point_id("runner-1")]
    assert runner.payload["events_offset"] == 1 and runner.payload["chat_offset"] == 1
    hits = await milvus.search(f"{prefix}products", runner.vector, limit=5)
    assert [h.payload["category"] for h in hits[:3]] == ["running"] * 3
    assert hits[0].payload["category"] == "running"
    cook_hits = await milvus.search(f"{prefix}products", profiles[point_id("cook-1")].vector, 3)
    assert [h.payload["category"] for h in cook_hits[:2]] == ["kitchen"] * 2

    similar = await semantic.similar_users(
        milvus, "runner-1", limit=3, collection=f"{prefix}user_profiles"
    )
    assert next(u.user_id for u in similar) == "runner-2"
    assert "runner-1" not in [u.user_id for u in similar]


async def test_a_deleted_product_leaves_milvus(
    sinks: dict[str, Any], milvus: MilvusVectorStore
) -> None:
    catalog = products()[:6]
    collection = sinks[PRODUCTS.topic]._collection
    await sinks[PRODUCTS.topic].write(records(PRODUCTS.topic, catalog))
    await sinks[PRODUCTS.topic].delete(
        [Deletion(b"running-0", PRODUCTS.topic, 0, 10), Deletion(b"nope", PRODUCTS.topic, 0, 11)]
    )
    stored = await milvus.retrieve(collection, [point_id(p.product_id) for p in catalog])
    assert {str(p.payload["product_id"]) for p in stored.values()} == {
        p.product_id for p in catalog[1:]
    }
