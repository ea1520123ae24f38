"""shop-api's routes: the catalog's cached reads, carts, orders and order history."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from polystream_web.cache import CacheUnavailableError, LookAsideCache
from polystream_web.errors import ApiError, invalid_parameters
from polystream_web.health import install_health_routes, readiness_response, run_probes
from shop_api import store
from shop_api.carts import Cart
from shop_api.deps import CacheDep, CartsDep, PoolDep, ResourcesDep, SettingsDep
from shop_api.settings import STOCK, TOP_SELLERS

log = logging.getLogger(__name__)

ID_PATTERN = r"^[A-Za-z0-9_:-]+$"  # no "." nor "$": product ids are keys of the cart document
MAX_QUANTITY = 1000
MAX_LINES = 100
TOP_SELLERS_KEY = "all"

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY, description="units, at least 1")]
IdField = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "the body could not be parsed (not UTF-8 JSON)",
        401: "missing or wrong API key",
        404: "not found",
        409: "not enough stock: nothing was ordered",
        429: "rate limit exceeded; see Retry-After",
        503: "a store the answer needs is unavailable; see Retry-After",
    }
    return {code: {"model": ApiError, "description": text[code]} for code in codes}


router = APIRouter(responses=documented(429, 503))


# -- catalog -----------------------------------------------------------------------------------


class Stock(BaseModel):
    product_id: str
    stock: int


class TopSeller(BaseModel):
    product_id: str
    name: str | None
    category: str | None
    units: int
    revenue: float


class ProductOut(BaseModel):
    product_id: str
    name: str
    category: str
    price: Decimal
    stock: int
    attributes: dict[str, Any]


class _NoSuchProduct(Exception):
    """Raised inside a cached compute, so nothing is cached for an unknown product."""


@router.get(
    "/products/{product_id}/stock",
    response_model=Stock,
    responses=documented(404),
    tags=["catalog"],
)
async def product_stock(product_id: Id, pool: PoolDep, cache: CacheDep) -> Stock:
    """A product's stock, through the Redis cache (TTL ``cache.ttl_s.stock``, 5 s by default;
    an order deletes it at commit)."""

    async def compute() -> int:
        stock = await store.product_stock(pool, product_id)
        if stock is None:
            raise _NoSuchProduct
        return stock

    try:
        value = await cache.get_or_compute(STOCK, product_id, compute)
    except _NoSuchProduct:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown product {product_id}") from None
    return Stock(product_id=product_id, stock=int(value))


@router.get("/top-sellers", response_model=list[TopSeller], tags=["catalog"])
async def top_sellers(
    pool: PoolDep,
    cache: CacheDep,
    limit: Annotated[int, Query(ge=1, le=store.TOP_SELLERS_COMPUTED)] = 10,
) -> list[TopSeller]:
    """The best sellers by units, all time, through the Redis cache (TTL
    ``cache.ttl_s.top_sellers``, 30 s by default; an order deletes it at commit)."""
    rows: list[dict[str, Any]] = await cache.get_or_compute(
        TOP_SELLERS, TOP_SELLERS_KEY, lambda: store.top_sellers(pool)
    )
    return [TopSeller(**row) for row in rows[:limit]]


@router.get("/products", response_model=list[ProductOut], tags=["catalog"])
async def products_by_attributes(
    pool: PoolDep,
    attributes: Annotated[
        str,
        Query(
            max_length=2000,
            description='a JSON object the product\'s attributes contain, e.g. {"tags": ["red"]}'
            ' or {"category": "books"} (JSONB @>, served by a GIN index)',
        ),
    ] = "{}",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ProductOut]:
    """Products whose JSONB attributes contain ``attributes``."""
    try:
        wanted = json.loads(attributes)
    except ValueError:
        raise invalid_parameters("attributes is not JSON", "query", "attributes") from None
    if not isinstance(wanted, dict):
        raise invalid_parameters("attributes must be a JSON object", "query", "attributes")
    rows = await store.products_with_attributes(pool, wanted, limit)
    return [ProductOut(**row) for row in rows]


# -- carts -------------------------------------------------------------------------------------


class CartLine(BaseModel):
    product_id: str
    quantity: int


class CartOut(BaseModel):
    customer_id: str
    items: list[CartLine]
    expires_at: datetime | None = Field(description="when the cart is gone if untouched")

    @classmethod
    def of(cls, cart: Cart) -> CartOut:
        return cls(
            customer_id=cart.customer_id,
            items=[CartLine(product_id=p, quantity=q) for p, q in sorted(cart.items.items())],
            expires_at=cart.expires_at,
        )


class AddToCart(BaseModel):
    product_id: IdField
    quantity: Quantity = 1


class SetQuantity(BaseModel):
    quantity: Quantity


async def _known_product(pool: Any, product_id: str, *loc: str | int) -> None:
    if not await store.existing_products(pool, [product_id]):
        raise invalid_parameters(f"unknown product {product_id}", *loc)


@router.get("/carts/{customer_id}", response_model=CartOut, tags=["carts"])
async def view_cart(customer_id: Id, carts: CartsDep) -> CartOut:
    """The customer's cart (empty when there is none, or it expired)."""
    return CartOut.of(await carts.view(customer_id))


@router.post(
    "/carts/{customer_id}/items", response_model=CartOut, responses=documented(400), tags=["carts"]
)
async def add_to_cart(customer_id: Id, line: AddToCart, carts: CartsDep, pool: PoolDep) -> CartOut:
    """Add units of a product to the cart (on top of those it holds); 422 for an unknown
    product. Every change renews the cart's expiry."""
    await _known_product(pool, line.product_id, "body", "product_id")
    cart = await carts.add(customer_id, line.product_id, line.quantity)
    if cart.items.get(line.product_id, 0) > MAX_QUANTITY:
        cart = await carts.set_quantity(customer_id, line.product_id, MAX_QUANTITY)
    return CartOut.of(cart)


@router.put(
    "/carts/{customer_id}/items/{product_id}",
    response_model=CartOut,
    responses=documented(400),
    tags=["carts"],
)
async def set_cart_quantity(
    customer_id: Id, product_id: Id, change: SetQuantity, carts: CartsDep, pool: PoolDep
) -> CartOut:
    """Set how many units of a product the cart holds."""
    await _known_product(pool, product_id, "path", "product_id")
    return CartOut.of(await carts.set_quantity(customer_id, product_id, change.quantity))


@router.delete("/carts/{customer_id}/items/{product_id}", response_model=CartOut, tags=["carts"])
async def remove_from_cart(customer_id: Id, product_id: Id, carts: CartsDep) -> CartOut:
    """Take a product out of the cart (a product it does not hold: no change)."""
    return CartOut.of(await carts.remove(customer_id, product_id))


# -- orders ------------------------------------------------------------------------------------


class OrderLineIn(BaseModel):
    product_id: IdField
    quantity: Quantity


class PlaceOrder(BaseModel):
    customer_id: IdField
    items: list[OrderLineIn] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LINES,
        description="what to order; omitted: the customer's cart (cleared once ordered)",
    )


class OrderItemOut(BaseModel):
    product_id: str
    quantity: int
    unit_price: Decimal


class OrderOut(BaseModel):
    order_id: uuid.UUID
    customer_id: str
    total: Decimal
    placed_at: datetime
    items: list[OrderItemOut]

    @classmethod
    def of(cls, order: store.Order) -> OrderOut:
        return cls(
            order_id=order.order_id,
            customer_id=order.customer_id,
            total=order.total,
            placed_at=order.placed_at,
            items=[
                OrderItemOut(product_id=i.product_id, quantity=i.quantity, unit_price=i.unit_price)
                for i in order.items
            ],
        )


IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=200,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="one per order the client means to place (a UUID): a retry with the same key"
        " returns the same order and charges nothing",
    ),
]


@router.post(
    "/orders",
    response_model=OrderOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        status.HTTP_200_OK: {
            "model": OrderOut,
            "description": "this Idempotency-Key placed the order before: the same order,"
            " nothing charged again (header Idempotent-Replayed: true)",
        },
        **documented(400, 409),
    },
    tags=["orders"],
)
async def place_order(
    body: PlaceOrder,
    idempotency_key: IdempotencyKey,
    response: Response,
    resources: ResourcesDep,
) -> OrderOut:
    """Place an order, once per Idempotency-Key: stock is checked and deducted, the order and
    its items inserted and ``order.placed`` queued in the outbox, in one PostgreSQL transaction.
    201: placed now; 200: placed before with this key; 409: not enough stock (nothing ordered);
    422: unknown products, an empty cart, or the key used for another request."""
    lines: dict[str, int] = {}
    from_cart = body.items is None
    if body.items is not None:
        for line in body.items:
            lines[line.product_id] = lines.get(line.product_id, 0) + line.quantity
    fingerprint = store.request_hash(body.customer_id, None if from_cart else lines)
    if from_cart:
        lines = (await resources.carts.view(body.customer_id)).items
    try:
        if from_cart and not lines:
            # A retry after the order cleared the cart still finds its order by the key.
            placed = await store.find_by_key(resources.pool, idempotency_key, fingerprint)
            if placed is None:
                raise invalid_parameters(
                    "the cart is empty: add items or send them in the body", "body"
                )
        else:
            placed = await store.place_order(
                resources.pool,
                idempotency_key=idempotency_key,
                customer_id=body.customer_id,
                lines=lines,
                fingerprint=fingerprint,
            )
    except store.UnknownProducts as exc:
        raise invalid_parameters(str(exc), "body", "items") from None
    except store.IdempotencyKeyReused as exc:
        raise invalid_parameters(str(exc), "header", "Idempotency-Key") from None
    except store.InsufficientStock as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    if placed.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
        return OrderOut.of(placed.order)
    if from_cart:
        await resources.carts.clear(body.customer_id)
    await invalidate_after_order(resources.cache, placed.order)
    return OrderOut.of(placed.order)


async def invalidate_after_order(cache: LookAsideCache, order: store.Order) -> None:
    """Drop the cached stock of the order's products and the best sellers. Redis down: logged
    and counted (the cache's fallback metric); the TTLs bound how long they stay stale."""
    stale = [(STOCK, item.product_id) for item in order.items]
    try:
        await cache.invalidate_many([*stale, (TOP_SELLERS, TOP_SELLERS_KEY)])
    except CacheUnavailableError as exc:
        log.warning("cache not invalidated after order %s: %s", order.order_id, exc)


@router.get(
    "/orders/{order_id}", response_model=OrderOut, responses=documented(404), tags=["orders"]
)
async def get_order(order_id: uuid.UUID, pool: PoolDep) -> OrderOut:
    order = await store.order_by_id(pool, order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown order {order_id}")
    return OrderOut.of(order)


class OrderSummary(BaseModel):
    order_id: uuid.UUID
    total: Decimal
    placed_at: datetime


@router.get("/customers/{customer_id}/orders", response_model=list[OrderSummary], tags=["orders"])
async def order_history(
    customer_id: Id, pool: PoolDep, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[OrderSummary]:
    """The customer's orders, newest first."""
    return [OrderSummary(**row) for row in await store.order_history(pool, customer_id, limit)]


# -- health ------------------------------------------------------------------------------------


async def readyz(resources: ResourcesDep, settings: SettingsDep) -> JSONResponse:
    """PostgreSQL and MongoDB answer (readiness); Redis is reported, but the API serves without
    it (every read then goes to PostgreSQL)."""
    probes: dict[str, Awaitable[Any]] = {
        "postgres": resources.pool.fetchval("SELECT 1"),
        "mongodb": resources.mongo.command("ping"),
        "redis": resources.cache.ping(),
    }
    return readiness_response(await run_probes(probes, settings.readiness_timeout_s))


install_health_routes(router, readyz)
