"""The embedder's sinks: the catalog, chat messages and user events as vectors.

Each sink encodes its batch's texts once, off the event loop (``asyncio.to_thread``: the model is
the slow part, and the consumer loop keeps the group membership and pauses the partitions while a
batch encodes, so memory stays bounded by the loop's two batches), then upserts the points into
every store of the collection. Point ids derive from the record's id (the product id, the chat
message's ``event_id``), so a redelivered batch overwrites its points and never duplicates them.

- :class:`ProductVectorSink`: ``products.catalog`` -> ``products``; a tombstone deletes the
  product's point from every store of the collection.
- :class:`ChatSink`: ``chat.messages`` -> ``chat_messages``, and each message moves its author's
  profile (one encoding serves both).
- :class:`UserEventProfileSink`: ``user.events`` -> the profiles of the users whose events name a
  product, weighted by event type, with the product's stored vector.

The profile sinks are partition-aware: a revoked partition's cached profiles are dropped (see
``embedder.profiles`` for why that and the stored watermarks keep profiles exact).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from embedder.profiles import CHAT, EVENTS, Interaction, ProfileBook, Vector
from embedder.stores import VectorStores, is_transient
from polystream_common.metrics import EncoderMetrics
from polystream_common.schemas import AnyUserEvent, ChatMessage, Product, UserEventType
from polystream_common.sink import (
    DeletingSink,
    Deletion,
    PartitionAwareSink,
    Rejection,
    Sink,
    SinkRecord,
    TopicPartitionId,
)
from polystream_embeddings.encoder import Encoder
from polystream_vectors.collections import NO_PRODUCT, product_point, product_text
from polystream_vectors.store import CollectionSpec, Point, point_id

log = logging.getLogger(__name__)


class EncoderHandle:
    """The encoder the sinks share, loaded once in the first sink's ``setup()`` (never at wiring
    time: loading reads a 90 MB model)."""

    def __init__(self, load: Callable[[], Encoder], metrics: EncoderMetrics) -> None:
        self._load = load
        self._metrics = metrics
        self._encoder: Encoder | None = None
        self._lock = asyncio.Lock()

    async def setup(self) -> None:
        async with self._lock:
            if self._encoder is None:
                encoder: Encoder = await asyncio.to_thread(self._load)
                self._metrics.backend(encoder.backend, encoder.device)
                self._encoder = encoder

    async def encode(self, texts: Sequence[str]) -> Vector:
        """The texts' vectors, encoded in a worker thread; one batch at a time."""
        assert self._encoder is not None, "setup() first"
        async with self._lock:  # the encoder is used from one thread at a time
            with self._metrics.timer():
                vectors = await asyncio.to_thread(self._encoder.encode, texts)
        self._metrics.encoded(len(texts))
        return vectors


class _VectorSink(Sink[Any]):
    """What the embedder's sinks share: the stores and the encoder, set up once."""

    def __init__(
        self, stores: VectorStores, encoder: EncoderHandle, specs: Sequence[CollectionSpec]
    ) -> None:
        self._stores = stores
        self._encoder = encoder
        self._specs = list(specs)

    async def setup(self) -> None:
        await self._stores.setup(self._specs)
        await self._encoder.setup()

    def is_transient(self, exc: BaseException) -> bool:
        return is_transient(exc)

    async def close(self) -> None:
        await self._stores.close()


class ProductVectorSink(_VectorSink, DeletingSink[Product]):
    """``products.catalog`` -> one point per product: its text's vector, with its category,
    price and name as payload. The loop keeps only a product's latest record in a batch."""

    name = "vectors-products"

    def __init__(self, stores: VectorStores, encoder: EncoderHandle, spec: CollectionSpec) -> None:
        super().__init__(stores, encoder, [spec])
        self._collection = spec.name

    async def write(self, batch: Sequence[SinkRecord[Product]]) -> Sequence[Rejection[Product]]:
        products = [record.value for record in batch]
        vectors = await self._encoder.encode([product_text(p) for p in products])
        points = [
            product_point(p, vector.tolist()) for p, vector in zip(products, vectors, strict=True)
        ]
        await self._stores.upsert(self._collection, points)
        return ()

    async def delete(self, deletions: Sequence[Deletion]) -> None:
        ids: list[int] = []
        for deletion in deletions:
            try:
                ids.append(point_id(deletion.key.decode()))
            except UnicodeDecodeError:  # keys are str(product_id).encode(): names no product
                log.warning("tombstone key is not UTF-8", extra={"offset": deletion.offset})
        await self._stores.delete(self._collection, ids)


class _ProfileSink(_VectorSink, PartitionAwareSink[Any]):
    def __init__(
        self,
        stores: VectorStores,
        encoder: EncoderHandle,
        specs: Sequence[CollectionSpec],
        profiles: ProfileBook,
    ) -> None:
        super().__init__(stores, encoder, specs)
        self._profiles = profiles

    async def on_revoke(self, partitions: Sequence[TopicPartitionId]) -> None:
        self._profiles.forget_partitions(p for _, p in partitions)


class ChatSink(_ProfileSink, PartitionAwareSink[ChatMessage]):
    """``chat.messages`` -> one point per message (``user_id``, ``conversation_id``,
    ``product_id`` or "", ``sent_at``), and the message in its author's profile."""

    name = "vectors-chat"

    def __init__(
        self,
        stores: VectorStores,
        encoder: EncoderHandle,
        chat_spec: CollectionSpec,
        profile_spec: CollectionSpec,
        profiles: ProfileBook,
        weight: float,
    ) -> None:
        super().__init__(stores, encoder, [chat_spec, profile_spec], profiles)
        self._collection = chat_spec.name
        self._weight = weight

    async def write(
        self, batch: Sequence[SinkRecord[ChatMessage]]
    ) -> Sequence[Rejection[ChatMessage]]:
        messages = [record.value for record in batch]
        vectors = await self._encoder.encode([m.text for m in messages])
        points = [
            Point(
                id=point_id(str(m.event_id)),
                vector=vector.tolist(),
                payload={
                    "user_id": m.user_id,
                    "conversation_id": m.conversation_id,
                    "product_id": m.product_id or NO_PRODUCT,
                    "sent_at": m.event_time,
                },
            )
            for m, vector in zip(messages, vectors, strict=True)
        ]
        await self._stores.upsert(self._collection, points)
        await self._profiles.apply(
            [
                Interaction(
                    r.value.user_id,
                    v,
                    self._weight,
                    r.value.event_time,
                    CHAT,
                    r.partition,
                    r.offset,
                )
                for r, v in zip(batch, vectors, strict=True)
            ]
        )
        return ()


class UserEventProfileSink(_ProfileSink, PartitionAwareSink[AnyUserEvent]):
    """``user.events`` -> the profiles of their users: each event that names a product adds the
    product's stored vector, weighted by the event's type. An event whose product has no vector
    yet (the catalog lags) changes nothing, and is counted."""

    name = "vectors-profiles"

    def __init__(
        self,
        stores: VectorStores,
        encoder: EncoderHandle,
        products_spec: CollectionSpec,
        profile_spec: CollectionSpec,
        profiles: ProfileBook,
        weights: Mapping[UserEventType, float],
        metrics: EncoderMetrics,
    ) -> None:
        super().__init__(stores, encoder, [products_spec, profile_spec], profiles)
        self._products = products_spec.name
        self._weights = weights
        self._metrics = metrics

    async def write(
        self, batch: Sequence[SinkRecord[AnyUserEvent]]
    ) -> Sequence[Rejection[AnyUserEvent]]:
        relevant = [
            r for r in batch if r.value.product_id and self._weights.get(r.value.event_type, 0) > 0
        ]
        ids = {
            r.value.product_id: point_id(r.value.product_id) for r in relevant if r.value.product_id
        }
        stored = await self._stores.retrieve(self._products, list(set(ids.values())))
        interactions: list[Interaction] = []
        for r in relevant:
            point = stored.get(ids[r.value.product_id or ""])
            if point is None:
                self._metrics.skipped("product_without_vector")
                continue
            interactions.append(
                Interaction(
                    r.value.user_id,
                    np.asarray(point.vector, np.float32),
                    self._weights[r.value.event_type],
                    r.value.event_time,
                    EVENTS,
                    r.partition,
                    r.offset,
                )
            )
        await self._profiles.apply(interactions)
        return ()
