"""The read side recsys-api serves (polystream_vectors.semantic), on the in-memory store and the
hashing encoder: arguments refused before any I/O, filters applied, a point never its own
neighbour, unknown ids reported as such."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pytest

from polystream_common.schemas import Product
from polystream_embeddings.testing import HashingEncoder
from polystream_vectors import semantic
from polystream_vectors.collections import (
    PRODUCTS,
    USER_PROFILES,
    product_point,
    product_text,
    products_collection,
    user_profiles_collection,
)
from polystream_vectors.semantic import (
    ProductHit,
    UnknownProduct,
    UnknownUser,
    UserHit,
    product_filter,
)
from polystream_vectors.store import Filter, Point, point_id
from polystream_vectors.testing import InMemoryVectorStore

DIM = 64
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = ("footwear", "kitchen", "games")


def catalog() -> list[Product]:
    return [
        Product(
            event_id=uuid.UUID(int=i + 1),
            event_time=T0,
            product_id=f"p{i}",
            name=f"product {i}",
            description=f"the description of product number {i}",
            category=CATEGORIES[i % 3],
            price=float(i),
        )
        for i in range(30)
    ]


@pytest.fixture
async def store() -> InMemoryVectorStore:
    encoder = HashingEncoder(DIM)
    store = InMemoryVectorStore()
    await store.ensure_collection(products_collection(DIM))
    products = catalog()
    vectors = encoder.encode([product_text(p) for p in products])
    await store.upsert(
        PRODUCTS,
        [product_point(p, v.tolist()) for p, v in zip(products, vectors, strict=True)],
    )
    await store.ensure_collection(user_profiles_collection(DIM))
    users = [f"u{i}" for i in range(8)]
    await store.upsert(
        USER_PROFILES,
        [
            Point(
                id=point_id(u),
                vector=v.tolist(),
                payload={
                    "user_id": u,
                    "updated_at": T0,
                    "norm": 1.0,
                    "weight": 1.0,
                    "events_offset": -1,
                    "chat_offset": -1,
                },
            )
            for u, v in zip(users, encoder.encode(users), strict=True)
        ],
    )
    return store


class ThreadRecordingEncoder(HashingEncoder):
    def __init__(self, dimension: int) -> None:
        super().__init__(dimension)
        self.threads: list[int] = []

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.threads.append(threading.get_ident())
        return super().encode(texts)


async def test_search_finds_the_product_by_its_own_text_off_the_event_loop(
    store: InMemoryVectorStore,
) -> None:
    encoder = ThreadRecordingEncoder(DIM)
    target = catalog()[7]
    hits = await semantic.search_products(encoder, store, product_text(target), limit=5)
    assert len(hits) == 5
    assert hits[0] == ProductHit(
        product_id="p7", name="product 7", category="kitchen", price=7.0, score=hits[0].score
    )
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert encoder.threads and threading.get_ident() not in encoder.threads


async def test_search_filters_by_category_and_price(store: InMemoryVectorStore) -> None:
    encoder = HashingEncoder(DIM)
    hits = await semantic.search_products(
        encoder, store, "anything", limit=100, category="games", min_price=5, max_price=20
    )
    assert {h.product_id for h in hits} == {f"p{i}" for i in range(5, 21) if i % 3 == 2}
    hits = await semantic.search_products(encoder, store, "anything", limit=100, max_price=3.0)
    assert {h.product_id for h in hits} == {"p0", "p1", "p2", "p3"}
    hits = await semantic.search_products(encoder, store, "x", limit=100, category="none-such")
    assert hits == []


def test_product_filter_maps_the_optional_conditions() -> None:
    assert product_filter(None, None, None) is None
    assert product_filter("games", None, None) == Filter(equals={"category": "games"})
    assert product_filter(None, 10, None) == Filter(ranges={"price": (10.0, None)})
    assert product_filter("games", 0.0, 9.5) == Filter(
        equals={"category": "games"}, ranges={"price": (0.0, 9.5)}
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": ""}, "query must not be empty"),
        ({"query": "   "}, "query must not be empty"),
        ({"query": "x" * 1001}, "at most 1000 characters"),
        ({"limit": 0}, "limit must be an integer in 1..100"),
        ({"limit": 101}, "limit must be an integer in 1..100"),
        ({"limit": True}, "limit must be an integer"),
        ({"limit": 2.0}, "limit must be an integer"),
        ({"category": " "}, "category must not be empty"),
        ({"min_price": 20.0, "max_price": 10.0}, "must not exceed max_price"),
        ({"min_price": -1.0}, "min_price must be a finite number >= 0"),
        ({"max_price": float("nan")}, "max_price must be a finite number >= 0"),
        ({"max_price": float("inf")}, "max_price must be a finite number >= 0"),
    ],
)
async def test_search_refuses_bad_arguments_before_any_io(
    kwargs: dict[str, object], message: str
) -> None:
    encoder = ThreadRecordingEncoder(DIM)
    args: dict[str, object] = {"query": "running shoes", **kwargs}
    with pytest.raises(ValueError, match=message):
        # An empty store: reaching it would raise KeyError, not ValueError.
        await semantic.search_products(encoder, InMemoryVectorStore(), **args)  # type: ignore[arg-type]
    assert encoder.threads == []


async def test_similar_products_excludes_the_product_itself(store: InMemoryVectorStore) -> None:
    hits = await semantic.similar_products(store, "p4", limit=5)
    assert len(hits) == 5
    assert "p4" not in {h.product_id for h in hits}
    assert all(isinstance(h, ProductHit) for h in hits)
    hits = await semantic.similar_products(store, "p4", limit=100)
    assert len(hits) == 29


async def test_similar_products_of_an_unknown_product(store: InMemoryVectorStore) -> None:
    with pytest.raises(UnknownProduct, match="'nope'") as caught:
        await semantic.similar_products(store, "nope")
    assert isinstance(caught.value, LookupError)
    assert caught.value.product_id == "nope"
    with pytest.raises(ValueError, match="product_id must not be empty"):
        await semantic.similar_products(store, "")
    with pytest.raises(ValueError, match="limit"):
        await semantic.similar_products(store, "p1", limit=0)


async def test_similar_users_excludes_the_user_itself(store: InMemoryVectorStore) -> None:
    hits = await semantic.similar_users(store, "u3", limit=3)
    assert len(hits) == 3
    assert all(isinstance(h, UserHit) for h in hits)
    assert "u3" not in {h.user_id for h in hits}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_similar_users_of_an_unknown_user(store: InMemoryVectorStore) -> None:
    with pytest.raises(UnknownUser, match="'ghost'") as caught:
        await semantic.similar_users(store, "ghost")
    assert isinstance(caught.value, LookupError)
    with pytest.raises(ValueError, match="limit"):
        await semantic.similar_users(store, "u1", limit=101)


async def test_a_custom_collection_name_is_read(store: InMemoryVectorStore) -> None:
    await store.ensure_collection(products_collection(DIM, name="products_v2"))
    with pytest.raises(UnknownProduct):
        await semantic.similar_products(store, "p1", collection="products_v2")
