"""The shop-api application factory: :func:`create_app` wires the routes to the clients its
lifespan hook opens (and migrates the schema), and closes them on shutdown. Nothing connects at
import, nor when the app is created."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pymongo import AsyncMongoClient

from polystream_web.app import create_api
from polystream_web.cache import LookAsideCache, redis_client
from polystream_web.security import build_limiter
from shop_api.analytics import router as analytics_router
from shop_api.carts import MongoCarts
from shop_api.deps import Resources
from shop_api.errors import install_error_handlers
from shop_api.routes import router
from shop_api.settings import ShopApiSettings
from shop_api.store import open_pool

log = logging.getLogger(__name__)

RATE_LIMIT_KEY_PREFIX = "shop-api-ratelimit"


def create_app(settings: ShopApiSettings) -> FastAPI:
    """The shop-api app over the stores the settings name."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            pool = await open_pool(
                settings.postgres,
                settings.postgres_schema,
                max_size=settings.postgres.pool_max_size,
                connect_timeout_s=settings.readiness_timeout_s * 5,
            )
            stack.push_async_callback(pool.close)
            mongo_client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                settings.mongo.url.get_secret_value(),
                serverSelectionTimeoutMS=settings.mongo_timeout_ms,
                appname=settings.service_name,
            )
            stack.push_async_callback(mongo_client.close)
            mongo = mongo_client[settings.mongo.database]
            carts = MongoCarts(mongo[settings.carts_collection], settings.cart_ttl_s)
            await carts.ensure_indexes()
            cache = LookAsideCache(
                redis_client(settings.redis, settings.cache),
                settings.cache,
                service=settings.service_name,
            )
            stack.push_async_callback(cache.close)
            app.state.resources = Resources(
                settings=settings, pool=pool, mongo=mongo, carts=carts, cache=cache
            )
            log.info("shop-api ready", extra={"schema": settings.postgres_schema})
            try:
                yield
            finally:
                del app.state.resources

    return create_api(
        title="shop-api",
        summary="Carts in MongoDB, ACID orders and stock in PostgreSQL, a transactional outbox"
        " into Kafka.",
        version="0.1.0",
        lifespan=lifespan,
        api_key=settings.api_key,
        limits=build_limiter(settings.rate_limit, RATE_LIMIT_KEY_PREFIX),
        install_error_handlers=install_error_handlers,
        routers=[router, analytics_router],
    )
