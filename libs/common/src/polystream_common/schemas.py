"""Event schemas of the four streams, and of the cache invalidations derived from them.

Records are JSON on the wire. Parsing is strict: wrong types, unknown fields and unknown event
types are rejected, so a bad record is caught at the consumer's edge and sent to the DLQ instead of
reaching a store. Every event carries an ``event_id`` (the idempotency key of every sink), an
``event_time`` (timezone-aware, the start of the end-to-end latency clock) and a
``schema_version``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal, get_args
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

NonEmptyStr = Annotated[str, Field(min_length=1, max_length=256)]


class Event(BaseModel):
    """Fields every event carries. ``key_field`` names the attribute used as the Kafka key."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    key_field: ClassVar[str]

    event_id: UUID
    event_time: AwareDatetime
    schema_version: int

    def key(self) -> bytes:
        """The Kafka key: the entity id, so one entity's events stay ordered in one partition."""
        return str(getattr(self, self.key_field)).encode()


SensorType = Literal["temperature", "humidity", "pressure", "co2", "vibration"]
SENSOR_TYPES: tuple[SensorType, ...] = get_args(SensorType)


class SensorReading(Event):
    """One IoT sensor reading. The sensor's type, location and unit travel with each reading."""

    key_field: ClassVar[str] = "sensor_id"

    schema_version: Literal[1] = 1
    sensor_id: NonEmptyStr
    sensor_type: SensorType
    location: NonEmptyStr
    unit: NonEmptyStr
    # Checked in pydantic-core, not by a Python validator: this runs for every reading.
    value: Annotated[float, Field(allow_inf_nan=False)]


UserEventType = Literal[
    "view", "click", "add_to_cart", "purchase", "campaign_view", "campaign_click"
]
USER_EVENT_TYPES: tuple[UserEventType, ...] = get_args(UserEventType)


class UserEventV1(Event):
    """A user interaction with a product or a campaign (schema version 1)."""

    key_field: ClassVar[str] = "user_id"

    schema_version: Literal[1] = 1
    user_id: NonEmptyStr
    session_id: NonEmptyStr
    event_type: UserEventType
    product_id: NonEmptyStr | None = None
    campaign_id: NonEmptyStr | None = None
    price: Annotated[float, Field(ge=0)] | None = None
    quantity: Annotated[int, Field(ge=1)] | None = None


Device = Literal["web", "ios", "android"]
DEVICES: tuple[Device, ...] = get_args(Device)


class UserEventV2(UserEventV1):
    """Version 2 adds the optional ``device``; v1 and v2 events live side by side in every store."""

    schema_version: Literal[2] = 2  # type: ignore[assignment]
    device: Device | None = None


UserEvent = Annotated[UserEventV1 | UserEventV2, Field(discriminator="schema_version")]
"""Any known version of a user event; the ``schema_version`` field picks the model."""

AnyUserEvent = UserEventV1 | UserEventV2


class ChatMessage(Event):
    """A chat message a user wrote, optionally about a product."""

    key_field: ClassVar[str] = "user_id"

    schema_version: Literal[1] = 1
    user_id: NonEmptyStr
    conversation_id: NonEmptyStr
    text: Annotated[str, Field(min_length=1, max_length=4096)]
    product_id: NonEmptyStr | None = None


class Product(Event):
    """A product catalog record; the latest record per ``product_id`` is the product's state."""

    key_field: ClassVar[str] = "product_id"

    schema_version: Literal[1] = 1
    product_id: NonEmptyStr
    name: NonEmptyStr
    description: Annotated[str, Field(max_length=4096)]
    category: NonEmptyStr
    price: Annotated[float, Field(ge=0)]
    tags: tuple[NonEmptyStr, ...] = ()


InvalidationReason = Literal["interactions_changed", "product_deleted"]


class CacheInvalidation(Event):
    """A user's cached recommendations are stale: what the user interacted with changed in the
    graph (graph-writer publishes one after the write commits, at least once: a duplicate only
    invalidates twice). ``event_time`` is the time of the change's latest event."""

    key_field: ClassVar[str] = "user_id"

    schema_version: Literal[1] = 1
    user_id: NonEmptyStr
    reason: InvalidationReason


class OrderLine(BaseModel):
    """One line of an order: a product, how many, at what unit price."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    product_id: NonEmptyStr
    quantity: Annotated[int, Field(ge=1)]
    unit_price: Annotated[float, Field(ge=0)]


class OrderPlaced(Event):
    """An order committed in shop-api's PostgreSQL, relayed from its outbox at least once: a
    consumer dedupes by ``order_id`` (a republished record also keeps its ``event_id``)."""

    key_field: ClassVar[str] = "order_id"

    schema_version: Literal[1] = 1
    order_id: UUID
    customer_id: NonEmptyStr
    total: Annotated[float, Field(ge=0)]
    lines: tuple[OrderLine, ...]


def utc_now() -> datetime:
    """Current time, timezone-aware, for ``event_time``."""
    return datetime.now(UTC)
