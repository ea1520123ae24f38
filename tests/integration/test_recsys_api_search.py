"""recsys-api end to end in-process: the real model (the ONNX export) and the local stack's
Milvus, opened by the app's own lifespan hook, in collections of the test's own prefix (dropped
after). A search ranks the product that means what was asked first, similar products exclude
the product itself, and /readyz sees Milvus."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from polystream_common.schemas import Product
from polystream_common.settings import RedisSettings
from polystream_embeddings.settings import EmbeddingSettings
from polystream_vectors.collections import product_point, product_text
from polystream_vectors.milvus import MilvusVectorStore
from polystream_vectors.settings import MilvusSettings
from recsys_api.app import create_app
from recsys_api.cache import CacheSettings
from recsys_api.deps import Resources
from recsys_api.settings import RecsysApiSettings

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CATALOG = [
    ("p-runner", "Swift Stride Road Runner", "footwear", 89.0, ("jogging", "marathon"),
     "Lightweight cushioned trainers for daily jogs and marathon training."),
    ("p-boots", "Summit Leather Boots", "footwear", 149.0, ("hiking", "waterproof"),
     "Stiff waterproof boots for mountain trails and heavy packs."),
    ("p-mug", "Ceramic Coffee Mug", "kitchen", 12.0, ("coffee",),
     "A glazed stoneware mug for tea and coffee."),
    ("p-headphones", "Quiet Wireless Headphones", "electronics", 199.0, ("audio", "bluetooth"),
     "Over-ear headphones with noise cancelling."),
    ("p-mat", "Studio Yoga Mat", "fitness", 35.0, ("yoga",),
     "A non-slip mat for yoga and stretching."),
]  # fmt: skip


def catalog() -> list[Product]:
    return [
        Product(
            event_id=uuid.uuid4(),
            event_time=NOW,
            product_id=product_id,
            name=name,
            description=description,
            category=category,
            price=price,
            tags=tags,
        )
        for product_id, name, category, price, tags, description in CATALOG
    ]


@pytest.fixture(scope="module")
def client(stack: dict[str, str], model_dir: Path) -> Iterator[TestClient]:
    prefix = f"test_{uuid.uuid4().hex[:8]}_"
    settings = RecsysApiSettings(
        collection_prefix=prefix,
        embedding=EmbeddingSettings(model_dir=model_dir, backend="onnx"),
        # Strong, not the service's Bounded: the test searches right after it writes, and
        # Bounded may not see writes of the last few seconds yet.
        milvus=MilvusSettings(
            uri=f"http://127.0.0.1:{stack['MILVUS_PORT']}", read_consistency_level="Strong"
        ),
        # the rest of the stores are the stack's, read only; the cache is a prefix of its own
        redis=RedisSettings(url=SecretStr(f"redis://127.0.0.1:{stack['REDIS_PORT']}/0")),
        cache=CacheSettings(key_prefix=prefix.rstrip("_")),
        invalidations=False,
    )
    app = create_app(settings)  # loads the model and opens Milvus itself, as in production
    with TestClient(app) as client:
        resources: Resources = app.state.resources
        store = resources.store
        assert isinstance(store, MilvusVectorStore)

        async def seed() -> None:
            products = catalog()
            vectors = resources.encoder.encode([product_text(p) for p in products])
            points = [product_point(p, v.tolist()) for p, v in zip(products, vectors, strict=True)]
            await store.upsert(resources.collections.products, points)

        async def drop() -> None:
            for name in (resources.collections.products, resources.collections.user_profiles):
                await store.client.drop_collection(name)

        assert client.portal is not None
        try:
            client.portal.call(seed)
            yield client
        finally:
            client.portal.call(drop)


def test_search_ranks_the_running_shoes_first(client: TestClient) -> None:
    response = client.get("/products/search", params={"q": "running shoes", "k": 3})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[0]["product_id"] == "p-runner"
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)


def test_search_filters_apply_on_milvus(client: TestClient) -> None:
    response = client.get(
        "/products/search", params={"q": "running shoes", "category": "kitchen", "k": 5}
    )
    assert response.status_code == 200, response.text
    assert [r["product_id"] for r in response.json()["results"]] == ["p-mug"]


def test_similar_products_excludes_itself(client: TestClient) -> None:
    response = client.get("/products/p-runner/similar", params={"k": 4})
    assert response.status_code == 200, response.text
    ids = [r["product_id"] for r in response.json()["results"]]
    assert "p-runner" not in ids
    assert len(ids) == 4
    assert client.get("/products/p-unknown/similar").status_code == 404


def test_readyz_sees_milvus(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["milvus"] == "ok"
