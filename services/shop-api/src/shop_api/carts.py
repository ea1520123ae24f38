"""Carts in MongoDB: one document per customer,
``{_id: customer_id, items: {product_id: quantity}, updated_at, expires_at}``.

Expiry. Every write sets ``expires_at = now + cart_ttl_s``, and a TTL index
(``expireAfterSeconds: 0`` on ``expires_at``) makes real MongoDB delete the cart once that time
has passed (its TTL monitor runs every 60 s, so a cart may outlive its time by about a minute).
The local stack's wire server (mongo-java-server) accepts that index but never deletes anything,
so the expiry is also enforced here, on every read and write: a cart past ``expires_at`` reads as
empty and is deleted (and a write to it starts a new, empty cart). Both servers behave the same
for a client; only the document's removal differs.

Product ids are map keys, so they must not hold ``.`` or start with ``$`` (the API's pattern for
a product id excludes both).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection


@dataclass(frozen=True, slots=True)
class Cart:
    customer_id: str
    items: dict[str, int]
    expires_at: datetime | None


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class MongoCarts:
    """The cart operations over one collection."""

    def __init__(
        self, collection: AsyncCollection[dict[str, Any]], ttl_s: int, clock: Any = None
    ) -> None:
        self._carts = collection
        self._ttl = timedelta(seconds=ttl_s)
        self._clock = clock or (lambda: datetime.now(UTC))

    async def ensure_indexes(self) -> None:
        await self._carts.create_index(
            [("expires_at", ASCENDING)], name="carts_ttl", expireAfterSeconds=0
        )

    async def view(self, customer_id: str) -> Cart:
        doc = await self._carts.find_one({"_id": customer_id})
        if doc is None:
            return Cart(customer_id, {}, None)
        if _utc(doc["expires_at"]) <= self._clock():
            await self._drop_expired(customer_id)
            return Cart(customer_id, {}, None)
        return self._cart(doc)

    async def add(self, customer_id: str, product_id: str, quantity: int) -> Cart:
        """Add ``quantity`` of a product (on top of what the cart has)."""
        return await self._update(customer_id, {"$inc": {f"items.{product_id}": quantity}})

    async def set_quantity(self, customer_id: str, product_id: str, quantity: int) -> Cart:
        return await self._update(customer_id, {"$set": {f"items.{product_id}": quantity}})

    async def remove(self, customer_id: str, product_id: str) -> Cart:
        return await self._update(customer_id, {"$unset": {f"items.{product_id}": ""}})

    async def clear(self, customer_id: str) -> None:
        await self._carts.delete_one({"_id": customer_id})

    async def _update(self, customer_id: str, change: dict[str, Any]) -> Cart:
        await self._drop_expired(customer_id)
        now = self._clock()
        stamp = {"updated_at": now, "expires_at": now + self._ttl}
        update = {**change, "$set": {**change.get("$set", {}), **stamp}}
        doc = await self._carts.find_one_and_update(
            {"_id": customer_id},
            update,
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None  # upsert
        return self._cart(doc)

    async def _drop_expired(self, customer_id: str) -> None:
        await self._carts.delete_one({"_id": customer_id, "expires_at": {"$lte": self._clock()}})

    @staticmethod
    def _cart(doc: dict[str, Any]) -> Cart:
        items = {pid: int(qty) for pid, qty in (doc.get("items") or {}).items() if int(qty) > 0}
        return Cart(str(doc["_id"]), items, _utc(doc["expires_at"]))
