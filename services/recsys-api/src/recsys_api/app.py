"""The recsys-api application factory: :func:`create_app` wires the routes to the clients its
lifespan hook opens, and closes them on shutdown. Nothing connects at import, nor when the app is
created: tests pass fakes (or real adapters) and drive it with ``TestClient``.

The lifespan also runs the consumer of ``cache.invalidations`` (:mod:`recsys_api.invalidations`)
as a background task when the settings ask for it. If that task fails for good, the failure is
logged as CRITICAL and ``/readyz`` reports it (503), so the replica is taken out of rotation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI
from neo4j import AsyncDriver, AsyncGraphDatabase
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from polystream_common.loop import Route
from polystream_common.runtime import run_consumer
from polystream_common.topics import CACHE_INVALIDATIONS
from polystream_embeddings.encoder import Encoder, load_encoder
from polystream_vectors.collections import (
    PRODUCTS,
    USER_PROFILES,
    products_collection,
    user_profiles_collection,
)
from polystream_vectors.milvus import MilvusVectorStore
from polystream_vectors.store import VectorStore
from polystream_web.app import create_api
from recsys_api.adapters import MongoChat, Neo4jGraph, PostgresEngagement
from recsys_api.analytics import router as analytics_router
from recsys_api.cache import LookAsideCache, redis_client
from recsys_api.deps import Collections, Resources
from recsys_api.errors import install_error_handlers
from recsys_api.invalidations import InvalidationSink
from recsys_api.recommend import (
    ChatReader,
    EngagementReader,
    GraphReader,
    Recommender,
)
from recsys_api.routes import router
from recsys_api.security import build_limiter
from recsys_api.settings import RecsysApiSettings

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: RecsysApiSettings,
    *,
    encoder: Encoder | None = None,
    store: VectorStore | None = None,
    graph: GraphReader | None = None,
    engagement: EngagementReader | None = None,
    chat: ChatReader | None = None,
) -> FastAPI:
    """The recsys-api app. Each keyword replaces the adapter the settings name (tests): a store
    given here must be set up already and stays open after the app stops (its owner closes it);
    what is opened from the settings is closed with the app. The collections are ensured on
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
            # Clients connect lazily (pool min_size 0): the app starts with a store down, and
            # /readyz says which.
            driver: AsyncDriver | None = None
            if graph is None:
                neo4j = settings.neo4j
                driver = AsyncGraphDatabase.driver(
                    neo4j.uri,
                    auth=(neo4j.user, neo4j.password.get_secret_value()),
                    connection_timeout=settings.readiness_timeout_s,
                    user_agent=settings.service_name,
                    # "label does not exist" on a graph not written yet is no news for a reader
                    notifications_min_severity="OFF",
                )
                stack.push_async_callback(driver.close)
            pool: asyncpg.Pool | None = None
            if engagement is None:
                pool = await asyncpg.create_pool(
                    **settings.postgres.connect_kwargs(),
                    min_size=0,
                    max_size=settings.postgres.pool_max_size,
                    server_settings={"search_path": f'"{settings.postgres_schema}"'},
                    timeout=settings.readiness_timeout_s,
                )
                stack.push_async_callback(pool.close)
            mongo: AsyncDatabase[dict[str, Any]] | None = None
            if chat is None:
                mongo_client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                    settings.mongo.url.get_secret_value(),
                    serverSelectionTimeoutMS=settings.mongo_timeout_ms,
                    appname=settings.service_name,
                )
                stack.push_async_callback(mongo_client.close)
                mongo = mongo_client[settings.mongo.database]
            # Loading the model reads ~90 MB and builds a session: off the event loop.
            active_encoder = encoder
            if active_encoder is None:
                active_encoder = await asyncio.to_thread(load_encoder, settings.embedding)
            cache = LookAsideCache(redis_client(settings.redis, settings.cache), settings.cache)
            stack.push_async_callback(cache.close)
            recommender = Recommender(
                active_store,
                collections.user_profiles,
                graph or Neo4jGraph(_required(driver), settings.label_prefix),
                engagement or PostgresEngagement(_required(pool)),
                products=collections.products,
                encoder=active_encoder,
                chat=chat or MongoChat(_required(mongo)),
                parameters=settings.recommend,
                clock=utc_now,
            )
            app.state.invalidations_error = None
            if settings.invalidations and settings.cache.enabled:
                stop = asyncio.Event()
                task = asyncio.create_task(
                    run_consumer(
                        settings, [Route(CACHE_INVALIDATIONS, InvalidationSink(cache))], stop=stop
                    ),
                    name="cache-invalidations",
                )
                task.add_done_callback(lambda done: _consumer_ended(app, done))
                stack.push_async_callback(_stop_consumer, stop, task)
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
                recommender=recommender,
                cache=cache,
                neo4j=driver,
                postgres=pool,
                mongo=mongo,
            )
            try:
                yield
            finally:
                del app.state.resources

    return create_api(
        title="recsys-api",
        summary="Hybrid recommendations, semantic search and analytics over HTTP.",
        version="0.1.0",
        lifespan=lifespan,
        api_key=settings.api_key,
        limits=build_limiter(settings.rate_limit),
        install_error_handlers=install_error_handlers,
        routers=[router, analytics_router],
    )


def _required(value: Any) -> Any:
    assert value is not None  # opened above whenever no replacement was given
    return value


def _consumer_ended(app: FastAPI, task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        app.state.invalidations_error = f"{type(exc).__name__}: {exc}"
        log.critical(
            "the cache.invalidations consumer stopped: cached recommendations now live for"
            " their whole TTL",
            exc_info=exc,
        )


async def _stop_consumer(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    try:
        await asyncio.wait_for(task, 30)
    except TimeoutError:
        log.warning("the cache.invalidations consumer did not stop within 30 s")
    except Exception:  # logged by _consumer_ended
        return
