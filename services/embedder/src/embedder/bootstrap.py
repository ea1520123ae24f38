"""The one place that picks the embedder's concrete adapters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from embedder.profiles import ProfileBook
from embedder.settings import EmbedderSettings, StoreName
from embedder.sinks import ChatSink, EncoderHandle, ProductVectorSink, UserEventProfileSink
from embedder.stores import VectorStores
from polystream_common import topics
from polystream_common.loop import Route
from polystream_common.metrics import EncoderMetrics
from polystream_embeddings.encoder import Encoder, load_encoder
from polystream_vectors.collections import (
    CHAT_MESSAGES,
    PRODUCTS,
    USER_PROFILES,
    chat_messages_collection,
    products_collection,
    user_profiles_collection,
)
from polystream_vectors.milvus import MilvusVectorStore
from polystream_vectors.qdrant import QdrantVectorStore
from polystream_vectors.store import CollectionSpec, VectorStore


def build_store(settings: EmbedderSettings, name: StoreName) -> VectorStore:
    """The adapter of one store, unconnected (it connects in ``setup``)."""
    if name == "milvus":
        assert settings.milvus is not None  # EmbedderSettings refuses a routed store unset
        return MilvusVectorStore(settings.milvus)
    assert settings.qdrant is not None
    return QdrantVectorStore(settings.qdrant)


def collection_specs(settings: EmbedderSettings) -> dict[str, CollectionSpec]:
    """The three collections, named with the settings' prefix, by their unprefixed name."""
    dimension, prefix = settings.embedding.dimension, settings.collection_prefix
    return {
        PRODUCTS: products_collection(dimension, prefix + PRODUCTS),
        CHAT_MESSAGES: chat_messages_collection(dimension, prefix + CHAT_MESSAGES),
        USER_PROFILES: user_profiles_collection(dimension, prefix + USER_PROFILES),
    }


def bootstrap(
    settings: EmbedderSettings,
    *,
    stores: dict[StoreName, VectorStore] | None = None,
    encoder: Callable[[], Encoder] | None = None,
) -> list[Route[Any]]:
    """The embedder's routes; tests pass fake ``stores`` and a fake ``encoder`` factory."""
    specs = collection_specs(settings)
    products, chats, profiles = specs[PRODUCTS], specs[CHAT_MESSAGES], specs[USER_PROFILES]
    routed = {
        products.name: settings.stores.products,
        chats.name: settings.stores.chat_messages,
        profiles.name: settings.stores.user_profiles,
    }
    if stores is None:
        stores = {name: build_store(settings, name) for name in settings.stores.used()}
    vectors = VectorStores(stores, routed)
    metrics = EncoderMetrics(settings.service_name)
    handle = EncoderHandle(encoder or (lambda: load_encoder(settings.embedding)), metrics)
    book = ProfileBook(
        vectors,
        settings.embedding.dimension,
        half_life_s=settings.profiles.half_life_hours * 3600,
        cache_size=settings.profiles.cache_size,
        collection=profiles.name,
    )
    return [
        Route(topics.PRODUCTS, ProductVectorSink(vectors, handle, products)),
        Route(
            topics.CHAT_MESSAGES,
            ChatSink(vectors, handle, chats, profiles, book, settings.profiles.chat_weight),
        ),
        Route(
            topics.USER_EVENTS,
            UserEventProfileSink(
                vectors,
                handle,
                products,
                profiles,
                book,
                settings.profiles.event_weights,
                metrics,
            ),
        ),
    ]
