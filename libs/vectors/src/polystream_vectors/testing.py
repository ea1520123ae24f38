"""An in-memory :class:`~polystream_vectors.store.VectorStore` for unit tests: exact cosine
search by brute force, the same filters and the same idempotence as the real adapters."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from polystream_vectors.store import CollectionSpec, Filter, Hit, Point, VectorStore


class InMemoryVectorStore(VectorStore):
    """Points in dicts, per collection. ``collections`` is public so tests can assert on it."""

    def __init__(self) -> None:
        self.specs: dict[str, CollectionSpec] = {}
        self.collections: dict[str, dict[int, Point]] = {}

    async def ensure_collection(self, spec: CollectionSpec) -> None:
        self.specs.setdefault(spec.name, spec)
        self.collections.setdefault(spec.name, {})

    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        stored = self._points(collection)
        spec = self.specs[collection]
        for point in points:
            if len(point.vector) != spec.dimension:
                raise ValueError(f"{collection}: vector of {len(point.vector)} dimensions")
            extra = set(point.payload) - set(spec.payload_fields)
            if extra:
                raise ValueError(f"{collection}: payload fields {sorted(extra)} not in the spec")
            stored[point.id] = point

    async def delete(self, collection: str, ids: Sequence[int]) -> None:
        stored = self._points(collection)
        for id_ in ids:
            stored.pop(id_, None)

    async def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int = 10,
        filters: Filter | None = None,
    ) -> list[Hit]:
        hits = [
            Hit(id=p.id, score=_cosine(vector, p.vector), payload=dict(p.payload))
            for p in self._points(collection).values()
            if filters is None or _matches(filters, p.payload)
        ]
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:limit]

    async def retrieve(self, collection: str, ids: Sequence[int]) -> dict[int, Point]:
        stored = self._points(collection)
        return {id_: stored[id_] for id_ in ids if id_ in stored}

    async def count(self, collection: str) -> int:
        return len(self._points(collection))

    def _points(self, collection: str) -> dict[int, Point]:
        try:
            return self.collections[collection]
        except KeyError:
            raise KeyError(f"call ensure_collection() for {collection!r} first") from None


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def _matches(filters: Filter, payload: Mapping[str, object]) -> bool:
    for name, expected in filters.equals.items():
        if payload.get(name) != expected:
            return False
    for name, (lo, hi) in filters.ranges.items():
        value = payload.get(name)
        if not isinstance(value, int | float | datetime):
            return False
        if lo is not None and value < lo:  # type: ignore[operator]
            return False
        if hi is not None and value > hi:  # type: ignore[operator]
            return False
    return True
