"""Typed dependency aliases of the routes, as the FastAPI template's ``api/deps.py``: a route
declares ``store: StoreDep`` and gets what the lifespan hook opened (:mod:`recsys_api.app`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from polystream_embeddings.encoder import Encoder
from polystream_vectors.store import VectorStore
from recsys_api.settings import RecsysApiSettings


@dataclass(frozen=True, slots=True)
class Collections:
    """The names of the collections read, with the settings' prefix."""

    products: str
    user_profiles: str


@dataclass(frozen=True, slots=True)
class Resources:
    """What the lifespan hook opened, held on ``app.state.resources`` while the app runs."""

    settings: RecsysApiSettings
    encoder: Encoder
    store: VectorStore
    collections: Collections


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


SettingsDep = Annotated[RecsysApiSettings, Depends(get_settings)]
EncoderDep = Annotated[Encoder, Depends(get_encoder)]
StoreDep = Annotated[VectorStore, Depends(get_store)]
CollectionsDep = Annotated[Collections, Depends(get_collections)]
