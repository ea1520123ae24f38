"""shop-api without a network: settings, the wiring, the events' deterministic ids, what an
idempotency key is bound to, the OpenAPI document, the CLI."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import SecretStr, ValidationError

from polystream_common.schemas import OrderPlaced
from polystream_common.topics import ORDER_PLACED, PRODUCTS
from shop_api.app import create_app
from shop_api.bootstrap import bootstrap
from shop_api.catalog import CatalogSink
from shop_api.events import order_placed_event, purchase_events
from shop_api.main import main
from shop_api.settings import ShopApiSettings
from shop_api.store import request_hash

AT = datetime(2026, 12, 1, tzinfo=UTC)


def test_settings_defaults_follow_the_stack_ports(
    stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SHOP_API_"):
            monkeypatch.delenv(name)
    settings = ShopApiSettings()
    assert settings.port == int(stack_env["SHOP_API_PORT"])
    assert settings.metrics_port == int(stack_env["SHOP_CATALOG_METRICS_PORT"])
    assert settings.relay.metrics_port == int(stack_env["SHOP_RELAY_METRICS_PORT"])
    assert settings.port == 8001
    assert settings.metrics_port == 9110  # SHOP_CATALOG_METRICS_PORT
    assert settings.relay.metrics_port == 9109  # SHOP_RELAY_METRICS_PORT
    assert settings.consumer.group_id == "shop-api-catalog"
    assert settings.cache.key_prefix == "shop"
    assert settings.cache.ttl_for("stock") == 5.0


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_API_RELAY__FAULT", "kill_after_produce")
    monkeypatch.setenv("SHOP_API_INITIAL_STOCK", "7")
    monkeypatch.setenv("SHOP_API_CONSUMER__GROUP_ID", "mine")
    settings = ShopApiSettings()
    assert settings.relay.fault == "kill_after_produce"
    assert settings.initial_stock == 7
    assert settings.consumer.group_id == "mine"


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_outside_development_defaults_and_a_missing_key_are_refused(environment: str) -> None:
    with pytest.raises(ValidationError):
        ShopApiSettings(environment=environment)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="API_KEY"):
        ShopApiSettings(
            environment=environment,  # type: ignore[arg-type]
            postgres={"password": SecretStr("real")},  # type: ignore[arg-type]
            mongo={"url": SecretStr("mongodb://u:p@db")},  # type: ignore[arg-type]
            redis={"url": SecretStr("redis://:p@cache")},  # type: ignore[arg-type]
        )


def test_bootstrap_routes_the_catalog_to_postgres_without_connecting() -> None:
    routes = bootstrap(ShopApiSettings(initial_stock=3))
    assert [route.stream.topic for route in routes] == [PRODUCTS.topic]
    assert isinstance(routes[0].sink, CatalogSink)


def test_events_have_ids_derived_from_the_order() -> None:
    order_id = uuid.uuid4()
    lines = [("a", 2, Decimal("1.50")), ("b", 1, Decimal("3"))]
    first = order_placed_event(order_id, "c1", AT, Decimal("6.00"), lines)
    again = order_placed_event(order_id, "c1", AT, Decimal("6.00"), lines)
    assert first.event_id == again.event_id
    assert OrderPlaced.model_validate_json(ORDER_PLACED.encode(first)) == first
    assert ORDER_PLACED.key_field == "order_id"
    purchases = purchase_events(order_id, "c1", AT, lines)
    assert [(p.product_id, p.quantity, p.price, p.event_type) for p in purchases] == [
        ("a", 2, 1.5, "purchase"),
        ("b", 1, 3.0, "purchase"),
    ]
    assert len({p.event_id for p in purchases} | {first.event_id}) == 3
    assert purchases == purchase_events(order_id, "c1", AT, lines)


def test_a_key_is_bound_to_the_customer_and_the_lines() -> None:
    assert request_hash("c", {"a": 1, "b": 2}) == request_hash("c", {"b": 2, "a": 1})
    assert request_hash("c", {"a": 1}) != request_hash("c", {"a": 2})
    assert request_hash("c", {"a": 1}) != request_hash("d", {"a": 1})
    assert request_hash("c", None) != request_hash("c", {"a": 1})


def test_the_openapi_document_describes_every_route_and_outcome() -> None:
    schema = create_app(ShopApiSettings()).openapi()  # no lifespan: nothing connects
    paths = schema["paths"]
    assert {
        "/orders",
        "/orders/{order_id}",
        "/carts/{customer_id}",
        "/carts/{customer_id}/items",
        "/carts/{customer_id}/items/{product_id}",
        "/products",
        "/products/{product_id}/stock",
        "/top-sellers",
        "/customers/{customer_id}/orders",
        "/analytics/revenue",
        "/analytics/customer-lifetime-value",
        "/healthz",
        "/readyz",
    } <= set(paths)
    assert {"200", "201", "400", "409", "422", "429", "503"} <= set(
        paths["/orders"]["post"]["responses"]
    )
    header = next(p for p in paths["/orders"]["post"]["parameters"] if p["in"] == "header")
    assert header["name"] == "Idempotency-Key" and header["required"]
    assert "401" in paths["/analytics/revenue"]["get"]["responses"]


def test_the_cli_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for command in ("serve", "relay", "catalog", "migrate"):
        assert command in out
