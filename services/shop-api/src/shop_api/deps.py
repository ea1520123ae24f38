"""Typed dependency aliases of the routes: a route declares ``pool: PoolDep`` and gets what the
lifespan hook opened (:mod:`shop_api.app`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from pymongo.asynchronous.database import AsyncDatabase

from polystream_web.cache import LookAsideCache
from shop_api.carts import MongoCarts
from shop_api.settings import ShopApiSettings


@dataclass(frozen=True, slots=True)
class Resources:
    """What the lifespan hook opened, on ``app.state.resources`` while the app runs."""

    settings: ShopApiSettings
    pool: asyncpg.Pool
    mongo: AsyncDatabase[dict[str, Any]]
    carts: MongoCarts
    cache: LookAsideCache


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


def get_settings(request: Request) -> ShopApiSettings:
    return get_resources(request).settings


def get_pool(request: Request) -> asyncpg.Pool:
    return get_resources(request).pool


def get_carts(request: Request) -> MongoCarts:
    return get_resources(request).carts


def get_cache(request: Request) -> LookAsideCache:
    return get_resources(request).cache


ResourcesDep = Annotated[Resources, Depends(get_resources)]
SettingsDep = Annotated[ShopApiSettings, Depends(get_settings)]
PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
CartsDep = Annotated[MongoCarts, Depends(get_carts)]
CacheDep = Annotated[LookAsideCache, Depends(get_cache)]
