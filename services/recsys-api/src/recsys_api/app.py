"""The recsys-api application factory: :func:`create_app` wires the routes to the clients its
lifespan hook opens, and closes them on shutdown. Nothing connects at import, nor when the app is
created: tests pass fakes (or real adapters) and drive it with ``TestClient``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from prometheus_client import make_asgi_app

from polystream_embeddings.encoder import Encoder, load_encoder
from polystream_vectors.collections import (
    PRODUCTS,
    USER_PROFILES,
    products_collection,
    user_profiles_collection,
)
from polystream_vectors.milvus import MilvusVectorStore
from polystream_vectors.store import VectorStore
from recsys_api.deps import Collections, Resources
from recsys_api.routes import router
from recsys_api.settings import RecsysApiSettings

log = logging.getLogger(__name__)


def create_app(
    settings: RecsysApiSettings,
    *,
    encoder: Encoder | None = None,
    store: VectorStore | None = None,
) -> FastAPI:
    """The recsys-api app. ``encoder`` and ``store`` replace what the settings name: a store given
    here must be set up already and stays open after the app stops (its owner closes it); one
    opened from the settings (Milvus) is closed with the app. The collections are ensured on
    whichever store, with the settings' prefix, at start."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            active_store = store
            if active_store is None:
                active_store = await stack.enter_async_context(MilvusVectorStore(settings.milvus))
            dimension, prefix = settings.embedding.dimension, settings.collection_prefix
            collections = Collections(
                products=prefix + PRODUCTS, user_profiles=prefix + USER_PROFILES
            )
            await active_store.ensure_collection(
                products_collection(dimension, collections.products)
            )
            await active_store.ensure_collection(
                user_profiles_collection(dimension, collections.user_profiles)
            )
            # Loading the model reads ~90 MB and builds a session: off the event loop.
            active_encoder = encoder
            if active_encoder is None:
                active_encoder = await asyncio.to_thread(load_encoder, settings.embedding)
            log.info(
                "recsys-api ready",
                extra={
                    "encoder": f"{active_encoder.backend}/{active_encoder.device}",
                    "store": type(active_store).__name__,
                },
            )
            app.state.resources = Resources(
                settings=settings,
                encoder=active_encoder,
                store=active_store,
                collections=collections,
            )
            try:
                yield
            finally:
                del app.state.resources

    app = FastAPI(
        title="recsys-api",
        summary="Recommendations and semantic search over HTTP.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(router)
    app.mount("/metrics", make_asgi_app())
    return app
