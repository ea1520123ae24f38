"""What the order flow publishes: ``order.placed`` (one record per order, keyed by order id) and,
for recommendations and the warehouse, one ``purchase`` :class:`UserEventV2` per order line on
``user.events``.

``order.placed``'s schema and topic are shared: :class:`polystream_common.schemas.OrderPlaced`
and :data:`polystream_common.topics.ORDER_PLACED`.

Event ids are derived from the order (uuid5), not drawn at random: the relay publishes at least
once, and a record published twice carries the same ``event_id``, so every consumer that writes by
``event_id`` (event-consumer, lake-writer's dedupe, the warehouse's ``fct_revenue``) keeps one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from polystream_common.schemas import OrderLine, OrderPlaced, UserEventV2

ORDER_NAMESPACE = uuid.UUID("6f1c0e1e-5a8b-4f0e-9a53-0a5d3c1f7e21")


def order_placed_event(
    order_id: uuid.UUID,
    customer_id: str,
    placed_at: datetime,
    total: Decimal,
    lines: list[tuple[str, int, Decimal]],
) -> OrderPlaced:
    return OrderPlaced(
        event_id=uuid.uuid5(ORDER_NAMESPACE, f"{order_id}:order.placed"),
        event_time=placed_at,
        order_id=order_id,
        customer_id=customer_id,
        total=float(total),
        lines=tuple(
            OrderLine(product_id=pid, quantity=qty, unit_price=float(price))
            for pid, qty, price in lines
        ),
    )


def purchase_events(
    order_id: uuid.UUID,
    customer_id: str,
    placed_at: datetime,
    lines: list[tuple[str, int, Decimal]],
) -> list[UserEventV2]:
    """One ``purchase`` per order line; the session is the order (a purchase closes it)."""
    return [
        UserEventV2(
            event_id=uuid.uuid5(ORDER_NAMESPACE, f"{order_id}:purchase:{pid}"),
            event_time=placed_at,
            user_id=customer_id,
            session_id=f"order-{order_id}",
            event_type="purchase",
            product_id=pid,
            price=float(price),
            quantity=qty,
            device=None,
        )
        for pid, qty, price in lines
    ]
