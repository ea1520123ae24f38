"""Typed dependency aliases of the routes, as the FastAPI template's ``api/deps.py``: a route
declares ``store: StoreDep`` and gets what the lifespan hook opened (:mod:`recsys_api.app`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends
from neo4j import AsyncDriver
from pymongo.asynchronous.database import AsyncDatabase

from polystream_embeddings.encoder import Encoder
from polystream_vectors.store import VectorStore
from polystream_web.app import AppResources
from recsys_api.cache import LookAsideCache
from recsys_api.recommend import Recommender
from recsys_api.settings import RecsysApiSettings


@dataclass(frozen=True, slots=True)
class Collections:
    """The names of the collections read, with the settings' prefix."""

    products: str
    user_profiles: str


@dataclass(frozen=True, slots=True)
class Resources:
    """What the lifespan hook opened, held on ``app.state.resources`` while the app runs.

    ``neo4j``, ``postgres`` and ``mongo`` are None when a test replaced every port that reads
    them; the readiness probe then skips them."""

    settings: RecsysApiSettings
    encoder: Encoder
    store: VectorStore
    collections: Collections
    recommender: Recommender
    cache: LookAsideCache
    neo4j: AsyncDriver | None = None
    postgres: asyncpg.Pool | None = None
    mongo: AsyncDatabase[dict[str, Any]] | None = None


resources = AppResources(Resources)

ResourcesDep = Annotated[Resources, Depends(resources.get)]
SettingsDep = Annotated[RecsysApiSettings, Depends(resources.part(lambda r: r.settings))]
EncoderDep = Annotated[Encoder, Depends(resources.part(lambda r: r.encoder))]
StoreDep = Annotated[VectorStore, Depends(resources.part(lambda r: r.store))]
CollectionsDep = Annotated[Collections, Depends(resources.part(lambda r: r.collections))]
RecommenderDep = Annotated[Recommender, Depends(resources.part(lambda r: r.recommender))]
CacheDep = Annotated[LookAsideCache, Depends(resources.part(lambda r: r.cache))]
