"""recsys-api's search routes over a fake encoder and an in-memory store: results come back, bad
input is a 422 with a message (never a 500), an unknown id a 404, and the routes are documented.
No network: the app is driven in-process by FastAPI's TestClient."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from polystream_common.schemas import Product
from polystream_embeddings.settings import EmbeddingSettings
from polystream_embeddings.testing import HashingEncoder
from polystream_vectors.collections import (
    product_point,
    product_text,
    products_collection,
    user_profiles_collection,
)
from polystream_vectors.store import Point, point_id
from polystream_vectors.testing import InMemoryVectorStore
from recsys_api.app import create_app
from recsys_api.cache import CacheSettings
from recsys_api.settings import RecsysApiSettings
from recsys_api.testing import InMemoryChat, InMemoryEngagement, InMemoryGraph

DIM = 64
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SETTINGS = RecsysApiSettings(
    embedding=EmbeddingSettings(dimension=DIM),
    cache=CacheSettings(enabled=False),
    invalidations=False,
)


def product(
    product_id: str, name: str, category: str, price: float, tags: tuple[str, ...]
) -> Product:
    return Product(
        event_id=uuid.uuid4(),
        event_time=NOW,
        product_id=product_id,
        name=name,
        description="",
        category=category,
        price=price,
        tags=tags,
    )


PRODUCTS = [
    product("p-run", "Road Running Shoes", "footwear", 89.0, ("running", "shoes")),
    product("p-boot", "Hiking Boots", "footwear", 129.0, ("hiking", "boots")),
    product("p-mug", "Ceramic Coffee Mug", "kitchen", 12.0, ("coffee", "mug")),
]


def user_point(user_id: str, vector: list[float]) -> Point:
    return Point(
        id=point_id(user_id),
        vector=vector,
        payload={
            "user_id": user_id,
            "updated_at": NOW,
            "norm": 1.0,
            "weight": 1.0,
            "events_offset": -1,
            "chat_offset": -1,
        },
    )


@pytest.fixture
def client() -> Iterator[TestClient]:
    encoder = HashingEncoder(DIM)
    store = InMemoryVectorStore()

    async def fill() -> None:
        await store.ensure_collection(products_collection(DIM))
        await store.ensure_collection(user_profiles_collection(DIM))
        vectors = encoder.encode([product_text(p) for p in PRODUCTS])
        await store.upsert(
            "products", [product_point(p, v) for p, v in zip(PRODUCTS, vectors, strict=True)]
        )
        users = encoder.encode(["running shoes", "running", "coffee"])
        await store.upsert(
            "user_profiles",
            [user_point(u, v.tolist()) for u, v in zip(["u1", "u2", "u3"], users, strict=True)],
        )

    app = create_app(
        SETTINGS,
        encoder=encoder,
        store=store,
        graph=InMemoryGraph(),
        engagement=InMemoryEngagement(),
        chat=InMemoryChat(),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.portal is not None
        client.portal.call(fill)  # on the app's own event loop
        yield client


def test_search_ranks_the_matching_product_first(client: TestClient) -> None:
    response = client.get("/products/search", params={"q": "running shoes", "k": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "running shoes"
    assert body["results"][0]["product_id"] == "p-run"
    assert len(body["results"]) == 2
    assert set(body["results"][0]) == {"product_id", "name", "category", "price", "score"}


def test_search_filters_by_category_and_price(client: TestClient) -> None:
    response = client.get(
        "/products/search",
        params={"q": "shoes", "category": "footwear", "min_price": 100, "max_price": 200},
    )
    assert response.status_code == 200
    assert [r["product_id"] for r in response.json()["results"]] == ["p-boot"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "shoes", "k": 0},
        {"q": "shoes", "k": 101},
        {"q": "shoes", "k": "many"},
        {"q": ""},
        {},
        {"q": "x" * 1001},
        {"q": "   "},
        {"q": "shoes", "min_price": 50, "max_price": 10},
        {"q": "shoes", "min_price": -1},
        {"q": "shoes", "max_price": "nan"},
        {"q": "shoes", "category": ""},
    ],
)
def test_bad_search_input_is_a_422_with_a_message(
    client: TestClient, params: dict[str, object]
) -> None:
    response = client.get("/products/search", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_min_price_above_max_price_says_so(client: TestClient) -> None:
    response = client.get(
        "/products/search", params={"q": "shoes", "min_price": 50, "max_price": 10}
    )
    assert response.status_code == 422
    assert "min_price" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("path", ["/products/p-run/similar", "/users/u1/similar"])
@pytest.mark.parametrize("k", [0, 101])
def test_similar_limits_out_of_range_are_a_422(client: TestClient, path: str, k: int) -> None:
    assert client.get(path, params={"k": k}).status_code == 422


def test_similar_products_excludes_the_product(client: TestClient) -> None:
    response = client.get("/products/p-run/similar", params={"k": 5})
    assert response.status_code == 200
    ids = [r["product_id"] for r in response.json()["results"]]
    assert "p-run" not in ids
    assert sorted(ids) == ["p-boot", "p-mug"]


def test_similar_users_excludes_the_user(client: TestClient) -> None:
    response = client.get("/users/u1/similar", params={"k": 5})
    assert response.status_code == 200
    ids = [r["user_id"] for r in response.json()["results"]]
    assert ids[0] == "u2"
    assert "u1" not in ids


def test_unknown_product_is_a_404(client: TestClient) -> None:
    response = client.get("/products/nope/similar")
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_unknown_user_is_a_404(client: TestClient) -> None:
    response = client.get("/users/nobody/similar")
    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"milvus": "ok"}


def test_readyz_is_a_503_naming_what_is_down() -> None:
    class DownStore(InMemoryVectorStore):
        async def retrieve(self, collection: str, ids: object) -> dict[int, Point]:  # type: ignore[override]
            raise ConnectionError("refused")

    app = create_app(
        SETTINGS,
        encoder=HashingEncoder(DIM),
        store=DownStore(),
        graph=InMemoryGraph(),
        engagement=InMemoryEngagement(),
        chat=InMemoryChat(),
    )
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["milvus"].startswith("down")


def test_openapi_documents_the_routes(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {
        "/products/search",
        "/products/{product_id}/similar",
        "/users/{user_id}/similar",
        "/healthz",
        "/readyz",
    } <= set(schema["paths"])
    search = schema["paths"]["/products/search"]["get"]
    k = next(p for p in search["parameters"] if p["name"] == "k")
    assert (k["schema"]["minimum"], k["schema"]["maximum"]) == (1, 100)
    assert "ProductSearchResponse" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_metrics_are_exposed(client: TestClient) -> None:
    response = client.get("/metrics/")
    assert response.status_code == 200
    assert "python_info" in response.text or "process_" in response.text


def test_request_metrics_are_labelled_by_route_template(client: TestClient) -> None:
    def count(route: str, status: str) -> float:
        labels = {"route": route, "method": "GET", "status": status}
        return (
            REGISTRY.get_sample_value("polystream_http_request_duration_seconds_count", labels)
            or 0.0
        )

    before = count("/products/{product_id}/similar", "404"), count("<unmatched>", "404")
    assert client.get("/products/p-nope/similar").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    after = count("/products/{product_id}/similar", "404"), count("<unmatched>", "404")
    assert after == (before[0] + 1, before[1] + 1)
