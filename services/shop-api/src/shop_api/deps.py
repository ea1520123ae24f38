"""Typed dependency aliases of the routes: a route declares ``pool: PoolDep`` and gets what the
lifespan hook opened (:mod:`shop_api.app`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends
from pymongo.asynchronous.database import AsyncDatabase

from polystream_web.app import AppResources
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


resources = AppResources(Resources)

ResourcesDep = Annotated[Resources, Depends(resources.get)]
SettingsDep = Annotated[ShopApiSettings, Depends(resources.part(lambda r: r.settings))]
PoolDep = Annotated[asyncpg.Pool, Depends(resources.part(lambda r: r.pool))]
CartsDep = Annotated[MongoCarts, Depends(resources.part(lambda r: r.carts))]
CacheDep = Annotated[LookAsideCache, Depends(resources.part(lambda r: r.cache))]
