"""The HTTP routes: hybrid recommendations (:mod:`recsys_api.recommend`), semantic search over the
vector collections (:mod:`polystream_vectors.semantic`) and the health probes. Every read goes
through the look-aside cache (:mod:`recsys_api.cache`) under its kind's TTL.

Bad input never gives a 500: FastAPI refuses what the declared bounds exclude (422), the read
side's :class:`ValueError` becomes a 422 with its message, and an id without a vector
(:class:`~polystream_vectors.semantic.UnknownProduct`, ``UnknownUser``) a 404.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
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
from polystream_web.health import install_health_routes, readiness_response, run_probes
from recsys_api.deps import (
    CacheDep,
    Collections,
    CollectionsDep,
    EncoderDep,
    RecommenderDep,
    ResourcesDep,
    StoreDep,
)
from recsys_api.errors import ApiError, invalid_parameters
from recsys_api.recommend import Recommendations

log = logging.getLogger(__name__)

router = APIRouter(
    responses={
        status.HTTP_429_TOO_MANY_REQUESTS: {
            "model": ApiError,
            "description": "rate limit exceeded; see Retry-After",
        },
        status.HTTP_503_SERVICE_UNAVAILABLE: {
            "model": ApiError,
            "description": "a store the answer needs is unavailable; see Retry-After",
        },
    }
)

K = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="how many results")]
Id = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
SEARCH = "search"
RECOMMENDATIONS = "recommendations"
CACHED_RECOMMENDATIONS = MAX_LIMIT
"""A user's recommendations are computed and cached once at the largest k; a request slices."""


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


class ViaUser(BaseModel):
    """A similar user who led to an item: their profile similarity and interactions with it."""

    user_id: str
    similarity: float
    interactions: int


class RecommendedItem(BaseModel):
    kind: Literal["product", "campaign"]
    id: str
    score: float = Field(description="rank score in [0, 1], higher first")
    reason: Literal["similar_users", "profile_match", "popular"] = Field(
        description="similar_users: found through them (see via); profile_match: near the"
        " user's own vector; popular: cold-start filler"
    )
    engagement: float = Field(description="the item's decayed engagement score")
    affinity: float = Field(description="sum of similarity * log1p(interactions) over via")
    match: float = Field(description="cosine of the product's vector with the user's")
    via: list[ViaUser] = Field(
        description="the similar users who interacted with it, closest first"
    )


class RecommendationsResponse(BaseModel):
    user_id: str
    strategy: Literal["hybrid", "popular"] = Field(
        description="popular when the user has no neighbours with anything new (cold start)"
    )
    source: Literal["profile", "last_chat", "none"] = Field(
        description="what the vector step started from"
    )
    items: list[RecommendedItem] = Field(description="best first")
    similar_users: list[UserResult] = Field(description="the vector step's neighbours")

    @classmethod
    def of(cls, found: Recommendations) -> RecommendationsResponse:
        return cls(
            user_id=found.user_id,
            strategy=found.strategy,
            source=found.source,
            items=[
                RecommendedItem(
                    kind=item.kind,
                    id=item.id,
                    score=item.score,
                    reason=item.reason,
                    engagement=item.engagement,
                    affinity=item.affinity,
                    match=item.match,
                    via=[
                        ViaUser(
                            user_id=v.user_id, similarity=v.similarity, interactions=v.interactions
                        )
                        for v in item.via
                    ],
                )
                for item in found.items
            ],
            similar_users=[UserResult.of(hit) for hit in found.similar_users],
        )


_NOT_FOUND: dict[int | str, dict[str, Any]] = {status.HTTP_404_NOT_FOUND: {"model": ApiError}}


@contextmanager
def _client_errors() -> Iterator[None]:
    """The read side's refusals as HTTP errors: its messages are written for the caller."""
    try:
        yield
    except (UnknownProduct, UnknownUser) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc.args[0])) from exc
    except ValueError as exc:
        raise invalid_parameters(str(exc), "query") from exc


@router.get(
    "/recommendations/{user_id}",
    response_model=RecommendationsResponse,
    responses=_NOT_FOUND,
    tags=["recommendations"],
)
async def recommendations(
    user_id: Id,
    recommender: RecommenderDep,
    cache: CacheDep,
    k: K = 10,
    kind: Annotated[
        Literal["product", "campaign"] | None, Query(description="only this kind of item")
    ] = None,
) -> JSONResponse:
    """Hybrid recommendations: users similar to this one (vector step), what they interacted
    with that this user has not (graph step), ranked by that affinity blended with engagement
    (rank step). Each item says why it was picked. A user with nothing to go on gets popular
    items (``strategy: popular``); a user no store knows gets 404."""

    async def compute() -> dict[str, Any]:
        with _client_errors():
            found = await recommender.recommend(user_id, CACHED_RECOMMENDATIONS)
        return RecommendationsResponse.of(found).model_dump(mode="json")

    # The cached JSON is served as it is, sliced: validated once when computed, never again on
    # a hit (a hit then costs a Redis GET and a JSON parse, not a model round trip).
    full = await cache.get_or_compute(RECOMMENDATIONS, user_id, compute)
    items = [item for item in full["items"] if kind is None or item["kind"] == kind][:k]
    return JSONResponse({**full, "items": items})


@router.get("/products/search", response_model=ProductSearchResponse, tags=["search"])
async def search_products(
    encoder: EncoderDep,
    cache: CacheDep,
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
) -> JSONResponse:
    """The ``k`` products closest in meaning to ``q``, optionally of one category and within a
    price range."""

    async def compute() -> dict[str, Any]:
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
        results = [ProductResult.of(hit) for hit in hits]
        return ProductSearchResponse(query=q, results=results).model_dump(mode="json")

    key = json.dumps([q, k, category, min_price, max_price], separators=(",", ":"))
    found = await cache.get_or_compute(SEARCH, hashlib.sha256(key.encode()).hexdigest(), compute)
    return JSONResponse(found)


@router.get(
    "/products/{product_id}/similar",
    response_model=SimilarProductsResponse,
    responses=_NOT_FOUND,
    tags=["search"],
)
async def similar_products(
    product_id: Id, store: StoreDep, collections: CollectionsDep, k: K = 10
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
    user_id: Id, store: StoreDep, collections: CollectionsDep, k: K = 10
) -> SimilarUsersResponse:
    """The ``k`` users whose profile vectors are nearest this user's; 404 when the user has no
    profile yet."""
    with _client_errors():
        hits = await semantic.similar_users(
            store, user_id, limit=k, collection=collections.user_profiles
        )
    return SimilarUsersResponse(user_id=user_id, results=[UserResult.of(hit) for hit in hits])


async def readyz(request: Request, resources: ResourcesDep) -> JSONResponse:
    """Whether the dependencies answer (readiness): 200 with each one's ``"ok"``, or 503 naming
    what is down. Redis is reported but does not make the API unready: without it every read is
    served from the stores. A consumer of ``cache.invalidations`` that stopped does."""
    settings = resources.settings
    probes: dict[str, Awaitable[Any]] = {
        "milvus": _ping_store(resources.store, resources.collections)
    }
    if resources.neo4j is not None:
        probes["neo4j"] = resources.neo4j.verify_connectivity()
    if resources.postgres is not None:
        probes["postgres"] = resources.postgres.fetchval("SELECT 1")
    if resources.mongo is not None:
        probes["mongodb"] = resources.mongo.command("ping")
    if settings.cache.enabled:
        probes["redis"] = resources.cache.ping()
    checks = await run_probes(probes, settings.readiness_timeout_s, log=log)
    failed: str | None = getattr(request.app.state, "invalidations_error", None)
    if failed is not None:
        checks["cache_invalidations"] = f"down: {failed}"
    return readiness_response(checks)


async def _ping_store(store: VectorStore, collections: Collections) -> None:
    if isinstance(store, MilvusVectorStore):
        # Cheapest round trip: no search, no wait for a time tick.
        await store.client.list_collections()
    else:
        await store.retrieve(collections.products, [1])


install_health_routes(router, readyz)
