"""The vector stores each collection is written to, behind one object the sinks share.

A collection may live in several stores (the settings choose): the vectors are encoded once and
upserted into each, concurrently. Reads (a product's vector, a user's stored profile) go to the
collection's first store. Every store is set up once, however many sinks share it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from polystream_common.sink import TransientSinkError
from polystream_vectors.errors import is_unavailable
from polystream_vectors.store import CollectionSpec, Point, VectorStore


def is_transient(exc: BaseException) -> bool:
    """True when a vector store error means "unavailable now, retry", not "these records fail"."""
    return isinstance(exc, TransientSinkError) or is_unavailable(exc)


class VectorStores:
    """Collections by name, each with its stores; shared by the embedder's sinks."""

    def __init__(
        self, stores: Mapping[Any, VectorStore], collections: Mapping[str, Sequence[str]]
    ) -> None:
        unknown = {name for names in collections.values() for name in names} - set(stores)
        if unknown:
            raise ValueError(f"collections routed to unknown stores: {sorted(unknown)}")
        self._stores = dict(stores)
        self._routes = {collection: list(names) for collection, names in collections.items()}
        self._setup_done = False
        self._setup_lock = asyncio.Lock()

    async def setup(self, specs: Sequence[CollectionSpec]) -> None:
        """Connect every store once, and create the collections of ``specs`` where they go."""
        async with self._setup_lock:
            if not self._setup_done:
                for store in self._stores.values():
                    await store.setup()
                self._setup_done = True
            for spec in specs:
                for store in self._of(spec.name):
                    await store.ensure_collection(spec)

    async def close(self) -> None:
        async with self._setup_lock:
            if self._setup_done:
                self._setup_done = False
                for store in self._stores.values():
                    await store.close()

    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        """Upsert ``points`` into every store of ``collection``."""
        if points:
            await asyncio.gather(*(s.upsert(collection, points) for s in self._of(collection)))

    async def delete(self, collection: str, ids: Sequence[int]) -> None:
        """Delete ``ids`` from every store of ``collection``."""
        if ids:
            await asyncio.gather(*(s.delete(collection, ids) for s in self._of(collection)))

    async def retrieve(self, collection: str, ids: Sequence[int]) -> dict[int, Point]:
        """The stored points of ``ids``, read from the collection's first store."""
        return await self._of(collection)[0].retrieve(collection, ids) if ids else {}

    def _of(self, collection: str) -> list[VectorStore]:
        try:
            return [self._stores[name] for name in self._routes[collection]]
        except KeyError:
            raise KeyError(f"no store is configured for collection {collection!r}") from None
