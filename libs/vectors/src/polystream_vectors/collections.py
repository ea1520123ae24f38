"""The collections the embedder writes and recsys-api reads: one place that says what each holds,
so the writer and the readers (:mod:`polystream_vectors.semantic`) agree on names and payloads.

The dimension is the encoder's (``EmbeddingSettings.dimension``), so each spec is a function of
it. Point ids (:func:`~polystream_vectors.store.point_id`) derive from:

- ``products``: ``point_id(product_id)``; a product's latest record overwrites its point;
- ``chat_messages``: ``point_id(str(event_id))``, one point per message;
- ``user_profiles``: ``point_id(user_id)``, one profile per user.

Milvus 2.3 has no nullable fields, so every field is written on every point: a chat message
about no product carries ``product_id=""``.
"""

from __future__ import annotations

from collections.abc import Sequence

from polystream_common.schemas import Product
from polystream_vectors.store import CollectionSpec, PayloadType, Point, point_id

PRODUCTS = "products"
CHAT_MESSAGES = "chat_messages"
USER_PROFILES = "user_profiles"

NO_PRODUCT = ""
"""``product_id`` of a chat message about no product (Milvus 2.3 has no nullable fields)."""


def products_collection(dimension: int, name: str = PRODUCTS) -> CollectionSpec:
    """One point per product: the vector of :func:`product_text`, with what a search result
    shows and filters on (``category``, ``price``)."""
    return CollectionSpec(
        name=name,
        dimension=dimension,
        payload_fields={
            "product_id": PayloadType.KEYWORD,
            "name": PayloadType.KEYWORD,
            "category": PayloadType.KEYWORD,
            "price": PayloadType.FLOAT,
            "updated_at": PayloadType.DATETIME,
        },
    )


def chat_messages_collection(dimension: int, name: str = CHAT_MESSAGES) -> CollectionSpec:
    """One point per chat message: the vector of its text, with who wrote it, in which
    conversation, about which product (:data:`NO_PRODUCT` when none) and when."""
    return CollectionSpec(
        name=name,
        dimension=dimension,
        payload_fields={
            "user_id": PayloadType.KEYWORD,
            "conversation_id": PayloadType.KEYWORD,
            "product_id": PayloadType.KEYWORD,
            "sent_at": PayloadType.DATETIME,
        },
    )


def user_profiles_collection(dimension: int, name: str = USER_PROFILES) -> CollectionSpec:
    """One point per user: the unit profile vector, and what continues the profile exactly
    after a restart: ``norm`` (the length of the unnormalised sum, since engines may store the
    vector normalised), ``weight`` (the decayed total weight) and the last Kafka offsets folded
    in (``events_offset`` on ``user.events``, ``chat_offset`` on ``chat.messages``; -1 for
    none), so a redelivered record is not counted twice."""
    return CollectionSpec(
        name=name,
        dimension=dimension,
        payload_fields={
            "user_id": PayloadType.KEYWORD,
            "updated_at": PayloadType.DATETIME,
            "norm": PayloadType.FLOAT,
            "weight": PayloadType.FLOAT,
            "events_offset": PayloadType.INT,
            "chat_offset": PayloadType.INT,
        },
    )


def product_point(product: Product, vector: Sequence[float]) -> Point:
    """The point of ``product`` in :func:`products_collection`: ``vector`` (of
    :func:`product_text`) and the payload a search shows and filters on."""
    return Point(
        id=point_id(product.product_id),
        vector=list(vector),
        payload={
            "product_id": product.product_id,
            "name": product.name,
            "category": product.category,
            "price": product.price,
            "updated_at": product.event_time,
        },
    )


def product_text(product: Product) -> str:
    """The text whose vector stands for ``product``: name, category, tags, then description,
    e.g. ``"Trail Runner 2. Category: footwear. Tags: trail, waterproof. Grippy soles for..."``.

    The order is by information per word: all-MiniLM-L6-v2 reads at most 256 word pieces and
    drops the rest, so a long description is what gets cut, never the name, category or tags.
    The price is left out: a sentence encoder does not compare numbers, and price is a filter.
    """
    parts = [product.name.strip(), f"Category: {product.category.strip()}"]
    tags = [tag.strip() for tag in product.tags if tag.strip()]
    if tags:
        parts.append(f"Tags: {', '.join(tags)}")
    description = product.description.strip()
    if description:
        parts.append(description)
    return ". ".join(part.rstrip(".") for part in parts) + "."
