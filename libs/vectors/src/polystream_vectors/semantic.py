"""The read side of the vector collections, as recsys-api serves it: products by the meaning of a
query, products like a product, users like a user.

Arguments are checked before any I/O: a bad one raises :class:`ValueError` with a message fit
for a 400 response; an id with no vector raises :class:`UnknownProduct` / :class:`UnknownUser`
(both :class:`LookupError`, a 404). The query is encoded in a worker thread
(:meth:`Encoder.encode <polystream_embeddings.encoder.Encoder.encode>` blocks), never on the
event loop.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass

from polystream_embeddings.encoder import Encoder
from polystream_vectors.collections import PRODUCTS, USER_PROFILES
from polystream_vectors.store import Filter, Hit, PayloadValue, VectorStore, point_id

MAX_LIMIT = 100
MAX_QUERY_LENGTH = 1000
"""Characters. The model reads ~256 word pieces anyway; this bounds the work a request asks."""


@dataclass(frozen=True, slots=True)
class ProductHit:
    """A product found, with its cosine similarity to what was asked (higher is closer)."""

    product_id: str
    name: str
    category: str
    price: float
    score: float


@dataclass(frozen=True, slots=True)
class UserHit:
    """A user whose profile is near the one asked about, with the cosine similarity."""

    user_id: str
    score: float


class UnknownProduct(LookupError):
    """The product has no vector: never embedded, deleted, or not a product id."""

    def __init__(self, product_id: str) -> None:
        super().__init__(f"no vector for product {product_id!r}")
        self.product_id = product_id


class UnknownUser(LookupError):
    """The user has no profile vector yet (no interaction embedded), or is not a user id."""

    def __init__(self, user_id: str) -> None:
        super().__init__(f"no profile vector for user {user_id!r}")
        self.user_id = user_id


async def search_products(
    encoder: Encoder,
    store: VectorStore,
    query: str,
    limit: int = 10,
    category: str | None = None,
    min_price: float | None = None,
    max_price: float | None = None,
    *,
    collection: str = PRODUCTS,
) -> list[ProductHit]:
    """The ``limit`` products whose text is closest in meaning to ``query``, best first, only
    of ``category`` and priced within ``[min_price, max_price]`` (inclusive) when given.

    Raises :class:`ValueError` for an empty or overlong query, a limit outside 1..100, an empty
    category, or a price bound that is negative, not finite, or a minimum above the maximum.
    """
    _check_limit(limit)
    text = query.strip()
    if not text:
        raise ValueError("query must not be empty")
    if len(text) > MAX_QUERY_LENGTH:
        raise ValueError(f"query must be at most {MAX_QUERY_LENGTH} characters")
    filters = product_filter(category, min_price, max_price)
    vectors = await asyncio.to_thread(encoder.encode, [text])
    hits = await store.search(collection, vectors[0].tolist(), limit=limit, filters=filters)
    return [_product_hit(hit) for hit in hits]


async def similar_products(
    store: VectorStore, product_id: str, limit: int = 10, *, collection: str = PRODUCTS
) -> list[ProductHit]:
    """The ``limit`` products nearest ``product_id``'s vector, best first, itself excluded.

    Raises :class:`UnknownProduct` when the product has no vector, :class:`ValueError` for an
    empty id or a limit outside 1..100.
    """
    _check_limit(limit)
    if not product_id:
        raise ValueError("product_id must not be empty")
    hits = await _neighbours(store, collection, point_id(product_id), limit)
    if hits is None:
        raise UnknownProduct(product_id)
    return [_product_hit(hit) for hit in hits]


async def similar_users(
    store: VectorStore, user_id: str, limit: int = 10, *, collection: str = USER_PROFILES
) -> list[UserHit]:
    """The ``limit`` users whose profile vectors are nearest ``user_id``'s, best first, the user
    excluded.

    Raises :class:`UnknownUser` when the user has no profile, :class:`ValueError` for an empty id
    or a limit outside 1..100.
    """
    _check_limit(limit)
    if not user_id:
        raise ValueError("user_id must not be empty")
    hits = await _neighbours(store, collection, point_id(user_id), limit)
    if hits is None:
        raise UnknownUser(user_id)
    return [UserHit(user_id=str(hit.payload["user_id"]), score=hit.score) for hit in hits]


def product_filter(
    category: str | None, min_price: float | None, max_price: float | None
) -> Filter | None:
    """The store filter of a product search's optional conditions; ``None`` when there is none.
    Raises :class:`ValueError` for an empty category or a bad price range."""
    equals: dict[str, str | int] = {}
    ranges: dict[str, tuple[float | None, float | None]] = {}
    if category is not None:
        if not category.strip():
            raise ValueError("category must not be empty")
        equals["category"] = category
    for name, bound in (("min_price", min_price), ("max_price", max_price)):
        if bound is not None and not (math.isfinite(bound) and bound >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {bound}")
    if min_price is not None and max_price is not None and min_price > max_price:
        raise ValueError(f"min_price ({min_price}) must not exceed max_price ({max_price})")
    if min_price is not None or max_price is not None:
        ranges["price"] = (
            float(min_price) if min_price is not None else None,
            float(max_price) if max_price is not None else None,
        )
    return Filter(equals=equals, ranges=ranges) if equals or ranges else None


async def _neighbours(
    store: VectorStore, collection: str, id_: int, limit: int
) -> list[Hit] | None:
    """The ``limit`` nearest points of point ``id_`` without itself; ``None`` if not stored."""
    point = (await store.retrieve(collection, [id_])).get(id_)
    if point is None:
        return None
    # One more than asked, since the point finds itself (first, unless others tie with it).
    hits = await store.search(collection, point.vector, limit=limit + 1)
    return [hit for hit in hits if hit.id != id_][:limit]


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer in 1..{MAX_LIMIT}, got {limit!r}")


def _product_hit(hit: Hit) -> ProductHit:
    payload: Mapping[str, PayloadValue] = hit.payload
    return ProductHit(
        product_id=str(payload["product_id"]),
        name=str(payload["name"]),
        category=str(payload["category"]),
        price=float(payload["price"]),  # type: ignore[arg-type]
        score=hit.score,
    )
