"""The one place that picks the catalog consumer's concrete adapters."""

from __future__ import annotations

from typing import Any

from polystream_common.loop import Route
from polystream_common.topics import PRODUCTS
from shop_api.catalog import CatalogSink
from shop_api.settings import ShopApiSettings


def bootstrap(settings: ShopApiSettings) -> list[Route[Any]]:
    return [
        Route(
            PRODUCTS,
            CatalogSink(settings.postgres, settings.postgres_schema, settings.initial_stock),
        )
    ]
