"""The embedder's wiring on the consumer loop, with fakes only: a fake consumer, the in-memory
vector store and the hashing encoder. Records in, points out, exactly once; deletes; fan-out to
two stores; backpressure while the model is slow."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from embedder.bootstrap import bootstrap
from embedder.settings import CollectionStores, EmbedderLoopSettings, EmbedderSettings
from polystream_common.loop import ConsumeLoop, Route
from polystream_common.metrics import ConsumerMetrics
from polystream_common.schemas import ChatMessage, Event, Product, UserEventV1
from polystream_common.testing import FakeConsumer, RecordingCheckpoint
from polystream_common.topics import CHAT_MESSAGES, PRODUCTS, USER_EVENTS
from polystream_embeddings.encoder import Encoder
from polystream_embeddings.settings import EmbeddingSettings
from polystream_embeddings.testing import HashingEncoder
from polystream_vectors.settings import QdrantSettings
from polystream_vectors.store import point_id
from polystream_vectors.testing import InMemoryVectorStore

DIM = 32
T0 = datetime(2026, 11, 1, tzinfo=UTC)
LOOP = EmbedderLoopSettings(
    group_id="t", batch_size=16, backoff_initial_s=0.001, backoff_max_s=0.01, keepalive_s=0.05
)


def settings(stores: CollectionStores | None = None, **loop: Any) -> EmbedderSettings:
    return EmbedderSettings(
        consumer=LOOP.model_copy(update=loop),
        embedding=EmbeddingSettings(dimension=DIM),
        stores=stores or CollectionStores(),
        qdrant=QdrantSettings(),  # configured; the tests hand bootstrap fakes for both stores
        metrics_port=0,
    )


def uid(n: int) -> uuid.UUID:
    return uuid.UUID(int=n + 1)


def product(i: int, category: str = "shoes") -> Product:
    return Product(
        event_id=uid(1000 + i),
        event_time=T0,
        product_id=f"P-{i:03d}",
        name=f"{category} item {i}",
        description=f"a fine {category} thing number {i}",
        category=category,
        price=float(10 + i),
    )


def chat(i: int, user: str, text: str) -> ChatMessage:
    return ChatMessage(
        event_id=uid(2000 + i),
        event_time=T0 + timedelta(minutes=i),
        user_id=user,
        conversation_id=f"c-{user}",
        text=text,
    )


def event(i: int, user: str, product_id: str | None, kind: str = "view") -> UserEventV1:
    return UserEventV1.model_validate(
        {
            "event_id": uid(3000 + i),
            "event_time": T0 + timedelta(minutes=i),
            "user_id": user,
            "session_id": "s",
            "event_type": kind,
            "product_id": product_id,
        }
    )


def log_of(
    products: Sequence[Product | str],
    chats: Sequence[ChatMessage] = (),
    events: Sequence[UserEventV1] = (),
) -> tuple[dict[tuple[str, int], list[bytes | None]], dict[tuple[str, int], list[bytes | None]]]:
    """The fake consumer's log and keys; a product given as a str is its tombstone."""
    values: dict[tuple[str, int], list[bytes | None]] = {}
    keys: dict[tuple[str, int], list[bytes | None]] = {}

    def add(topic: str, items: Sequence[Event | str]) -> None:
        tp = (topic, 0)
        values[tp] = [None if isinstance(x, str) else PRODUCTS.encode(x) for x in items]
        keys[tp] = [x.encode() if isinstance(x, str) else x.key() for x in items]

    add(PRODUCTS.topic, products)
    add(CHAT_MESSAGES.topic, chats)
    add(USER_EVENTS.topic, events)
    return values, keys


async def run_embedder(
    consumer: FakeConsumer, routes: list[Route[Any]], loop_settings: EmbedderLoopSettings = LOOP
) -> RecordingCheckpoint:
    for route in {id(r.sink): r for r in routes}.values():
        await route.sink.setup()
    checkpoint = RecordingCheckpoint(consumer)
    loop = ConsumeLoop(consumer, routes, checkpoint, loop_settings, ConsumerMetrics("t"))
    consumer.stop_when_drained = loop.stop
    await asyncio.wait_for(loop.run(), timeout=30)
    return checkpoint


def points(store: InMemoryVectorStore, collection: str) -> dict[int, Any]:
    return store.collections[collection]


async def test_products_chats_and_events_become_points_exactly_once_even_redelivered() -> None:
    catalog = [product(i, "shoes" if i % 2 else "kitchen") for i in range(10)]
    chats = [chat(i, f"u{i % 3}", f"I love shoes number {i}") for i in range(9)]
    events = [event(i, f"u{i % 3}", f"P-{i:03d}", "purchase") for i in range(10)]
    events.append(event(99, "u0", None, "campaign_view"))  # no product: moves nothing
    values, keys = log_of([*catalog, "P-000", "P-001"], chats, events)
    store = InMemoryVectorStore()

    def embedder() -> list[Route[Any]]:
        return bootstrap(settings(), stores={"milvus": store}, encoder=lambda: HashingEncoder(DIM))

    checkpoint = await run_embedder(FakeConsumer(values, keys), embedder())
    assert checkpoint.letters == []
    assert set(points(store, "products")) == {point_id(f"P-{i:03d}") for i in range(2, 10)}
    assert set(points(store, "chat_messages")) == {point_id(str(c.event_id)) for c in chats}
    assert set(points(store, "user_profiles")) == {point_id(u) for u in ("u0", "u1", "u2")}
    profiles = {
        k: (list(p.vector), dict(p.payload)) for k, p in points(store, "user_profiles").items()
    }

    # A crash before the commit: everything is delivered again to a fresh process.
    await run_embedder(FakeConsumer(values, keys), embedder())
    assert len(points(store, "products")) == 8
    assert len(points(store, "chat_messages")) == 9
    again = {
        k: (list(p.vector), dict(p.payload)) for k, p in points(store, "user_profiles").items()
    }
    assert again == profiles


async def test_a_collection_routed_to_two_stores_is_written_to_both() -> None:
    catalog = [product(i) for i in range(5)]
    values, keys = log_of([*catalog, "P-002"])
    milvus, qdrant = InMemoryVectorStore(), InMemoryVectorStore()
    routes = bootstrap(
        settings(CollectionStores(products=["qdrant", "milvus"])),
        stores={"milvus": milvus, "qdrant": qdrant},
        encoder=lambda: HashingEncoder(DIM),
    )
    await run_embedder(FakeConsumer(values, keys), routes)
    assert points(milvus, "products") == points(qdrant, "products")
    assert len(points(qdrant, "products")) == 4
    assert set(qdrant.collections) == {"products"}  # the other collections live in milvus only


class SlowEncoder(Encoder):
    """The hashing encoder, slowed down as a model on a busy CPU is, recording what the consumer
    had fetched beyond what was encoded each time it was called."""

    def __init__(self, consumer: FakeConsumer, delay_s: float) -> None:
        self.inner = HashingEncoder(DIM)
        self.model_name, self.dimension, self.backend, self.device = "slow", DIM, "fake", "cpu"
        self.consumer, self.delay_s = consumer, delay_s
        self.encoded = 0
        self.ahead: list[int] = []
        self.paused_while_encoding: list[bool] = []
        self.threads: set[int] = set()

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.threads.add(threading.get_ident())
        fetched = sum(self.consumer._positions.values())
        self.ahead.append(fetched - self.encoded)
        time.sleep(self.delay_s)
        self.paused_while_encoding.append(bool(self.consumer.paused))
        self.encoded += len(texts)
        return self.inner.encode(texts)


async def test_a_slow_model_pauses_the_partitions_and_bounds_what_is_fetched() -> None:
    batch = 16
    catalog = [product(i) for i in range(200)]
    values, keys = log_of(catalog)
    consumer = FakeConsumer(values, keys)
    slow = SlowEncoder(consumer, delay_s=0.15)
    store = InMemoryVectorStore()
    routes = bootstrap(settings(batch_size=batch), stores={"milvus": store}, encoder=lambda: slow)
    await run_embedder(consumer, routes, LOOP.model_copy(update={"batch_size": batch}))

    assert len(points(store, "products")) == 200  # nothing dropped
    assert consumer.committed[(PRODUCTS.topic, 0)] == 200
    # The encoding ran in a worker thread, never on the event loop's thread ...
    assert threading.get_ident() not in slow.threads
    # ... and while it ran the loop held the partitions paused and kept polling (membership),
    assert all(slow.paused_while_encoding)
    assert consumer.polls_while_paused > 0
    # ... so the consumer never had more than the batch being encoded and the one decoded
    # ahead of it: memory stays bounded however far the model lags.
    assert max(slow.ahead) <= 2 * batch


def test_a_store_no_collection_uses_may_stay_unset_but_a_routed_one_may_not() -> None:
    assert EmbedderSettings(stores=CollectionStores()).qdrant is None
    with pytest.raises(ValidationError, match="qdrant"):
        EmbedderSettings(stores=CollectionStores(user_profiles=["qdrant"]))


def test_default_credentials_are_refused_outside_development_only_for_stores_in_use() -> None:
    with pytest.raises(ValidationError, match="milvus"):
        EmbedderSettings(environment="production")
