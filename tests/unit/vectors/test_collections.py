"""The collections the embedder writes and recsys-api reads, and the text a product is embedded
as."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from polystream_common.schemas import Product
from polystream_vectors.collections import (
    CHAT_MESSAGES,
    PRODUCTS,
    USER_PROFILES,
    chat_messages_collection,
    product_text,
    products_collection,
    user_profiles_collection,
)
from polystream_vectors.store import PayloadType


def product(**fields: object) -> Product:
    values: dict[str, object] = {
        "event_id": uuid.UUID(int=1),
        "event_time": datetime(2026, 1, 1, tzinfo=UTC),
        "product_id": "p1",
        "name": "Trail Runner 2",
        "description": "Grippy soles for muddy paths.",
        "category": "footwear",
        "price": 120.0,
        "tags": ("trail", "waterproof"),
    }
    values.update(fields)
    return Product.model_validate(values)


def test_specs_are_named_and_sized_as_asked() -> None:
    assert products_collection(384).name == PRODUCTS == "products"
    assert chat_messages_collection(384).name == CHAT_MESSAGES == "chat_messages"
    assert user_profiles_collection(384).name == USER_PROFILES == "user_profiles"
    assert products_collection(768).dimension == 768
    assert products_collection(8, name="products_test").name == "products_test"


def test_payload_fields_of_each_collection() -> None:
    assert dict(products_collection(8).payload_fields) == {
        "product_id": PayloadType.KEYWORD,
        "name": PayloadType.KEYWORD,
        "category": PayloadType.KEYWORD,
        "price": PayloadType.FLOAT,
        "updated_at": PayloadType.DATETIME,
    }
    assert dict(chat_messages_collection(8).payload_fields) == {
        "user_id": PayloadType.KEYWORD,
        "conversation_id": PayloadType.KEYWORD,
        "product_id": PayloadType.KEYWORD,
        "sent_at": PayloadType.DATETIME,
    }
    assert dict(user_profiles_collection(8).payload_fields) == {
        "user_id": PayloadType.KEYWORD,
        "updated_at": PayloadType.DATETIME,
        "norm": PayloadType.FLOAT,
        "weight": PayloadType.FLOAT,
        "events_offset": PayloadType.INT,
        "chat_offset": PayloadType.INT,
    }


def test_product_text_puts_name_category_and_tags_before_the_description() -> None:
    assert product_text(product()) == (
        "Trail Runner 2. Category: footwear. Tags: trail, waterproof. Grippy soles for muddy paths."
    )


def test_product_text_leaves_out_the_price_and_what_is_empty() -> None:
    text = product_text(product(tags=(), description="  ", price=99.5))
    assert text == "Trail Runner 2. Category: footwear."
    assert "99" not in text
