"""What every VectorStore adapter must do, run against a real engine: each adapter's test file
subclasses :class:`VectorStoreContract` and provides the ``store`` fixture (set up, closed after)
and the ``collection`` fixture (a name of the test's own, dropped after).

Not a test module itself (no ``test_`` prefix): test files load it with :func:`load_contract`,
since the tests directory is not a package."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from polystream_vectors.store import (
    CollectionSpec,
    Filter,
    PayloadType,
    Point,
    VectorStore,
    point_id,
)

DIM = 16
COUNT = 300
CATEGORIES = ("shoes", "books", "toys")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def spec(name: str) -> CollectionSpec:
    return CollectionSpec(
        name=name,
        dimension=DIM,
        payload_fields={
            "category": PayloadType.KEYWORD,
            "price": PayloadType.FLOAT,
            "stock": PayloadType.INT,
            "created_at": PayloadType.DATETIME,
        },
    )


def unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def products(seed: int = 7) -> list[Point]:
    rng = random.Random(seed)
    return [
        Point(
            id=point_id(f"product-{i}"),
            vector=unit([rng.gauss(0, 1) for _ in range(DIM)]),
            payload={
                "category": CATEGORIES[i % len(CATEGORIES)],
                "price": float(i),
                "stock": i % 10,
                "created_at": T0 + timedelta(hours=i),
            },
        )
        for i in range(COUNT)
    ]


class VectorStoreContract:
    async def _filled(self, store: VectorStore, collection: str) -> list[Point]:
        await store.ensure_collection(spec(collection))
        points = products()
        for start in range(0, len(points), 100):
            await store.upsert(collection, points[start : start + 100])
        return points

    async def test_ensure_collection_twice_keeps_the_points(
        self, store: Any, collection: str
    ) -> None:
        points = await self._filled(store, collection)
        await store.ensure_collection(spec(collection))
        assert await store.count(collection) == len(points)

    async def test_redelivered_points_overwrite_and_never_duplicate(
        self, store: Any, collection: str
    ) -> None:
        points = await self._filled(store, collection)
        # The same record ids again, with new vectors and payloads: a redelivery after a change.
        again = [
            Point(id=p.id, vector=q.vector, payload={**p.payload, "price": 1000.0})
            for p, q in zip(points, products(seed=8), strict=True)
        ]
        await store.upsert(collection, again)
        assert await store.count(collection) == COUNT
        hits = await store.search(collection, again[5].vector, limit=1)
        assert hits[0].id == again[5].id
        assert hits[0].payload["price"] == 1000.0

    async def test_search_finds_the_stored_vector_first(
        self, store: VectorStore, collection: str
    ) -> None:
        points = await self._filled(store, collection)
        target = points[42]
        hits = await store.search(collection, target.vector, limit=5)
        assert len(hits) == 5
        assert hits[0].id == target.id
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert dict(hits[0].payload) == dict(target.payload)

    async def test_scores_are_cosine_similarity_whatever_the_norm(
        self, store: VectorStore, collection: str
    ) -> None:
        points = await self._filled(store, collection)
        scaled = [3.0 * x for x in points[7].vector]
        hits = await store.search(collection, scaled, limit=1)
        assert hits[0].id == points[7].id
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)

    async def test_category_filter_keeps_only_that_category(
        self, store: VectorStore, collection: str
    ) -> None:
        points = await self._filled(store, collection)
        target = points[1]  # a "books" product
        hits = await store.search(
            collection, target.vector, limit=20, filters=Filter(equals={"category": "shoes"})
        )
        assert len(hits) == 20
        assert {h.payload["category"] for h in hits} == {"shoes"}
        assert target.id not in {h.id for h in hits}

    async def test_range_filters_bound_numbers_and_datetimes(
        self, store: VectorStore, collection: str
    ) -> None:
        points = await self._filled(store, collection)
        hits = await store.search(
            collection,
            points[0].vector,
            limit=COUNT,
            filters=Filter(equals={"category": "toys"}, ranges={"price": (10.0, 40.0)}),
        )
        expected = {point_id(f"product-{i}") for i in range(COUNT) if i % 3 == 2 and 10 <= i <= 40}
        assert {h.id for h in hits} == expected
        hits = await store.search(
            collection,
            points[0].vector,
            limit=COUNT,
            filters=Filter(
                ranges={"created_at": (T0 + timedelta(hours=290), None), "stock": (None, 4)}
            ),
        )
        assert {h.id for h in hits} == {point_id(f"product-{i}") for i in range(290, 295)}
        hits = await store.search(
            collection, points[0].vector, limit=COUNT, filters=Filter(equals={"stock": 3})
        )
        assert len(hits) == COUNT // 10

    async def test_delete_removes_the_points(self, store: Any, collection: str) -> None:
        points = await self._filled(store, collection)
        gone = points[:10]
        await store.delete(collection, [p.id for p in gone] + [point_id("never-stored")])
        assert await store.count(collection) == COUNT - 10
        for p in gone[:3]:
            hits = await store.search(collection, p.vector, limit=3)
            assert p.id not in {h.id for h in hits}

    async def test_retrieve_gives_the_stored_points_and_ignores_missing_ids(
        self, store: VectorStore, collection: str
    ) -> None:
        points = await self._filled(store, collection)
        wanted = [points[3], points[150], points[299]]
        missing = point_id("never-stored")
        got = await store.retrieve(collection, [p.id for p in wanted] + [missing])
        assert set(got) == {p.id for p in wanted}
        for p in wanted:
            point = got[p.id]
            assert point.id == p.id
            # Engines store float32: equal to the written vector within float32 precision.
            assert list(point.vector) == pytest.approx(list(p.vector), abs=1e-6)
            assert dict(point.payload) == dict(p.payload)
            created_at = point.payload["created_at"]
            assert isinstance(created_at, datetime) and created_at.tzinfo is not None
        assert await store.retrieve(collection, [missing]) == {}
        assert await store.retrieve(collection, []) == {}

    async def test_retrieve_sees_overwrites_and_deletes(
        self, store: VectorStore, collection: str
    ) -> None:
        points = await self._filled(store, collection)
        changed = Point(id=points[0].id, vector=points[1].vector, payload=points[1].payload)
        await store.upsert(collection, [changed])
        await store.delete(collection, [points[2].id])
        got = await store.retrieve(collection, [points[0].id, points[2].id])
        assert set(got) == {points[0].id}
        assert list(got[points[0].id].vector) == pytest.approx(list(points[1].vector), abs=1e-6)
        assert dict(got[points[0].id].payload) == dict(points[1].payload)
