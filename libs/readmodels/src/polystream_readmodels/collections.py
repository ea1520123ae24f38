"""The MongoDB collections the services write and read, with the indexes their readers need.

The writer (event-consumer) creates the indexes at start; the aggregations of
:mod:`~polystream_readmodels.behaviour` rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import ASCENDING, DESCENDING, IndexModel


@dataclass(frozen=True)
class CollectionSpec:
    """A collection and the indexes a sink creates on it at start (idempotently)."""

    name: str
    indexes: tuple[IndexModel, ...] = ()


USER_EVENTS_COLLECTION = CollectionSpec(
    "user_events",
    (
        # A user's recent activity.
        IndexModel([("user_id", ASCENDING), ("event_time", DESCENDING)], name="user_time"),
        # Events of one type over time (events per type per day, the funnel steps).
        IndexModel([("event_type", ASCENDING), ("event_time", DESCENDING)], name="type_time"),
        # A product's interactions over time.
        IndexModel([("product_id", ASCENDING), ("event_time", DESCENDING)], name="product_time"),
        # Every analytics window starts with a range on event_time alone.
        IndexModel([("event_time", DESCENDING)], name="time"),
    ),
)
"""``user.events``: every schema version of :class:`~polystream_common.schemas.UserEventV1`."""

CHAT_MESSAGES_COLLECTION = CollectionSpec(
    "chat_messages",
    (
        # A conversation in order: the raw chat log.
        IndexModel([("conversation_id", ASCENDING), ("event_time", ASCENDING)], name="conv_time"),
        IndexModel([("user_id", ASCENDING), ("event_time", DESCENDING)], name="user_time"),
    ),
)
"""``chat.messages``: the source of truth of the raw chat logs."""

PRODUCTS_COLLECTION = CollectionSpec(
    "products",
    (
        # A category's products by price (the recommender's candidates); serves category alone.
        IndexModel([("category", ASCENDING), ("price", ASCENDING)], name="category_price"),
    ),
)
"""``products.catalog``: one document per product, its latest record (``_id`` = product id)."""
