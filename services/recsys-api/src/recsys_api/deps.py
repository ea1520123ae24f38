"""Typed dependency aliases of the routes, as the FastAPI template's ``api/deps.py``: a route
declares ``store: StoreDep`` and gets what the lifespan hook opened (:mod:`recsys_api.app`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from neo4j import AsyncDriver
from pymongo.asynchronous.database import AsyncDatabase

from polystream_embeddings.encoder import Encoder
from polystream_vectors.store import VectorStore
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


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


def get_settings(request: Request) -> RecsysApiSettings:
    return get_resources(request).settings


def get_encoder(request: Request) -> Encoder:
    return get_resources(request).encoder


def get_store(request: Request) -> VectorStore:
    return get_resources(request).store


def get_collections(request: Request) -> Collections:
    return get_resources(request).collections


def get_recommender(request: Request) -> Recommender:
    return get_resources(request).recommender


def get_cache(request: Request) -> LookAsideCache:
    return get_resources(request).cache


ResourcesDep = Annotated[Resources, Depends(get_resources)]
SettingsDep = Annotated[RecsysApiSettings, Depends(get_settings)]
EncoderDep = Annotated[Encoder, Depends(get_encoder)]
StoreDep = Annotated[VectorStore, Depends(get_store)]
CollectionsDep = Annotated[Collections, Depends(get_collections)]
RecommenderDep = Annotated[Recommender, Depends(get_recommender)]
CacheDep = Annotated[LookAsideCache, Depends(get_cache)]
