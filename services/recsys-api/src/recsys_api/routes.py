"""The HTTP routes: semantic search over the vector collections (:mod:`polystream_vectors.semantic`)
and the health probes.

Bad input never gives a 500: FastAPI refuses what the declared bounds exclude (422), the read
side's :class:`ValueError` becomes a 422 with its message, and an id without a vector
(:class:`~polystream_vectors.semantic.UnknownProduct`, ``UnknownUser``) a 404.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from polystream_vectors import semantic
from polystream_vectors.milvus import MilvusVectorStore
from polystream_vectors.semantic import (
    MAX_LIMIT,
    MAX_QUERY_LENGTH,
    ProductHit,
    UnknownProduct,
    UnknownUser,
    UserHit,
)
from polystream_vectors.store import VectorStore
from recsys_api.deps import Collections, CollectionsDep, EncoderDep, SettingsDep, StoreDep
from recsys_api.settings import RecsysApiSettings

log = logging.getLogger(__name__)

router = APIRouter()

K = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="how many results")]


class ProductResult(BaseModel):
    """A product found, with its cosine similarity to what was asked (higher is closer)."""

    product_id: str
    name: str
    category: str
    price: float
    score: float

    @classmethod
    def of(cls, hit: ProductHit) -> ProductResult:
        return cls(
            product_id=hit.product_id,
            name=hit.name,
            category=hit.category,
            price=hit.price,
            score=hit.score,
        )


class UserResult(BaseModel):
    """A user whose profile is near the one asked about, with the cosine similarity."""

    user_id: str
    score: float

    @classmethod
    def of(cls, hit: UserHit) -> UserResult:
        return cls(user_id=hit.user_id, score=hit.score)


class ProductSearchResponse(BaseModel):
    query: str
    results: list[ProductResult] = Field(description="best first")


class SimilarProductsResponse(BaseModel):
    product_id: str
    results: list[ProductResult] = Field(description="best first, the product itself excluded")


class SimilarUsersResponse(BaseModel):
    user_id: str
    results: list[UserResult] = Field(description="best first, the user itself excluded")


class Health(BaseModel):
    status: str = "ok"


class ErrorMessage(BaseModel):
    detail: str


_NOT_FOUND: dict[int | str, dict[str, Any]] = {status.HTTP_404_NOT_FOUND: {"model": ErrorMessage}}


@contextmanager
def _client_errors() -> Iterator[None]:
    """The read side's refusals as HTTP errors: its messages are written for the caller."""
    try:
        yield
    except (UnknownProduct, UnknownUser) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc.args[0])) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc


@router.get("/products/search", response_model=ProductSearchResponse, tags=["search"])
async def search_products(
    encoder: EncoderDep,
    store: StoreDep,
    collections: CollectionsDep,
    q: Annotated[
        str,
        Query(min_length=1, max_length=MAX_QUERY_LENGTH, description="what to look for"),
    ],
    k: K = 10,
    category: Annotated[str | None, Query(min_length=1, description="only this category")] = None,
    min_price: Annotated[float | None, Query(ge=0, description="inclusive")] = None,
    max_price: Annotated[float | None, Query(ge=0, description="inclusive")] = None,
) -> ProductSearchResponse:
    """The ``k`` products closest in meaning to ``q``, optionally of one category and within a
    price range."""
    with _client_errors():
        hits = await semantic.search_products(
            encoder,
            store,
            q,
            limit=k,
            category=category,
            min_price=min_price,
            max_price=max_price,
            collection=collections.products,
        )
    return ProductSearchResponse(query=q, results=[ProductResult.of(hit) for hit in hits])


@router.get(
    "/products/{product_id}/similar",
    response_model=SimilarProductsResponse,
    responses=_NOT_FOUND,
    tags=["search"],
)
async def similar_products(
    product_id: str, store: StoreDep, collections: CollectionsDep, k: K = 10
) -> SimilarProductsResponse:
    """The ``k`` products nearest this product's vector; 404 when it has none."""
    with _client_errors():
        hits = await semantic.similar_products(
            store, product_id, limit=k, collection=collections.products
        )
    return SimilarProductsResponse(
        product_id=product_id, results=[ProductResult.of(hit) for hit in hits]
    )


@router.get(
    "/users/{user_id}/similar",
    response_model=SimilarUsersResponse,
    responses=_NOT_FOUND,
    tags=["search"],
)
async def similar_users(
    user_id: str, store: StoreDep, collections: CollectionsDep, k: K = 10
) -> SimilarUsersResponse:
    """The ``k`` users whose profile vectors are nearest this user's; 404 when the user has no
    profile yet."""
    with _client_errors():
        hits = await semantic.similar_users(
            store, user_id, limit=k, collection=collections.user_profiles
        )
    return SimilarUsersResponse(user_id=user_id, results=[UserResult.of(hit) for hit in hits])


@router.get("/healthz", response_model=Health, tags=["health"])
async def healthz() -> Health:
    """The process is up and serving (liveness): checks nothing else."""
    return Health()


@router.get(
    "/readyz",
    response_model=dict[str, str],
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": dict[str, str]}},
    tags=["health"],
)
async def readyz(
    store: StoreDep, collections: CollectionsDep, settings: SettingsDep
) -> JSONResponse:
    """Whether the dependencies answer (readiness): 200 with ``{"milvus": "ok"}``, or 503
    naming what is down."""
    checks = {"milvus": await _check(_ping_store(store, collections), settings)}
    ready = all(value == "ok" for value in checks.values())
    code = status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE
    return JSONResponse(checks, status_code=code)


async def _ping_store(store: VectorStore, collections: Collections) -> None:
    if isinstance(store, MilvusVectorStore):
        # Cheapest round trip: no search, no wait for a time tick.
        await store.client.list_collections()
    else:
        await store.retrieve(collections.products, [1])


async def _check(probe: Coroutine[Any, Any, None], settings: RecsysApiSettings) -> str:
    try:
        await asyncio.wait_for(probe, settings.readiness_timeout_s)
    except TimeoutError:
        return f"down: no answer within {settings.readiness_timeout_s}s"
    except Exception as exc:  # any failure means not ready; the reason is shown
        log.warning("readiness check failed", exc_info=True)
        return f"down: {type(exc).__name__}"
    return "ok"
