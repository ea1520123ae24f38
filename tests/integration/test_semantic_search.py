"""Semantic search as recsys-api serves it (polystream_vectors.semantic), with the real model
(all-MiniLM-L6-v2) and the local stack's Milvus 2.3 server, on a catalog written for the test
(semantic_catalog.py): queries find products by meaning when they share no word with them,
similar products are of the same kind, similar users have the same tastes, and filters narrow
the results exactly.

The figures these tests measure are printed (``pytest -s`` shows them)."""

from __future__ import annotations

import importlib.util
import random
import re
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from polystream_embeddings.encoder import Encoder, load_encoder
from polystream_embeddings.settings import EmbeddingSettings
from polystream_vectors import semantic
from polystream_vectors.collections import (
    product_text,
    products_collection,
    user_profiles_collection,
)
from polystream_vectors.milvus import MilvusVectorStore
from polystream_vectors.settings import MilvusSettings
from polystream_vectors.store import Point, point_id


def _load_catalog() -> ModuleType:
    path = Path(__file__).with_name("semantic_catalog.py")
    spec = importlib.util.spec_from_file_location("semantic_catalog", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses look their module up to resolve annotations.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


catalog = _load_catalog()
TEXTS = {item.product_id: product_text(catalog.product(item)) for item in catalog.CATALOG}
USERS_PER_TASTE = 4
ENGAGEMENTS_PER_USER = 5


def stems(text: str) -> set[str]:
    """The content words of ``text``, each with its loose stems (plural, -ing, -ed endings off),
    so that "ponies" meets "pony" and "loves" meets "love"."""
    out: set[str] = set()
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in catalog.STOP_WORDS:
            continue
        out.add(word)
        if word.endswith("ies") and len(word) > 4:
            out.add(word[:-3] + "y")
        for suffix in ("es", "s", "ing", "ed"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                out.add(word[: -len(suffix)])
                out.add(word[: -len(suffix)] + "e")  # "writing" -> "write"
    return out


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    # The torch backend loads the packaged model folder with no export step; the ONNX backend
    # gives the same vectors (tests/integration/test_encoder_backends.py).
    return load_encoder(EmbeddingSettings(backend="torch"))


@pytest.fixture(scope="module")
async def store(stack: dict[str, str]) -> AsyncIterator[MilvusVectorStore]:
    settings = MilvusSettings(uri=f"http://127.0.0.1:{stack['MILVUS_PORT']}")
    async with MilvusVectorStore(settings) as store:
        yield store


@pytest.fixture(scope="module")
async def products(
    store: MilvusVectorStore, encoder: Encoder
) -> AsyncIterator[tuple[str, dict[str, np.ndarray]]]:
    """The catalog embedded into a products collection of this module's own (dropped after);
    yields its name and each product's vector."""
    name = f"test_products_{uuid.uuid4().hex[:12]}"
    await store.ensure_collection(products_collection(encoder.dimension, name=name))
    items = catalog.CATALOG
    vectors = encoder.encode([TEXTS[item.product_id] for item in items])
    points = [
        Point(
            id=point_id(item.product_id),
            vector=vector.tolist(),
            payload={
                "product_id": item.product_id,
                "name": item.name,
                "category": item.category,
                "price": item.price,
                "updated_at": catalog.T0,
            },
        )
        for item, vector in zip(items, vectors, strict=True)
    ]
    try:
        await store.upsert(name, points)
        yield name, {item.product_id: v for item, v in zip(items, vectors, strict=True)}
    finally:
        await store.client.drop_collection(name)


def test_the_catalog_is_large_and_varied() -> None:
    assert len(catalog.CATALOG) >= 200
    assert len({item.category for item in catalog.CATALOG}) >= 8
    assert len(catalog.BY_ID) == len(catalog.CATALOG)  # ids are unique


async def test_running_shoes_finds_the_marathon_racer_without_either_word(
    encoder: Encoder, store: MilvusVectorStore, products: tuple[str, dict[str, np.ndarray]]
) -> None:
    text = TEXTS[catalog.MARATHON].lower()
    assert "running" not in text and "shoes" not in text
    hits = await semantic.search_products(
        encoder, store, "running shoes", limit=10, collection=products[0]
    )
    ranking = [h.product_id for h in hits]
    rank = ranking.index(catalog.MARATHON) + 1 if catalog.MARATHON in ranking else None
    print(f"\n'running shoes': {catalog.MARATHON} ranks {rank}; top 5: {ranking[:5]}")
    assert rank is not None and rank <= 3


def test_no_paraphrase_shares_a_word_with_its_targets_category() -> None:
    for query, target in catalog.PARAPHRASES.items():
        category = catalog.BY_ID[target].category
        words = stems(query)
        for item in catalog.CATALOG:
            if item.category == category:
                shared = words & stems(TEXTS[item.product_id])
                assert not shared, f"{query!r} shares {shared} with {item.product_id}"


async def test_paraphrases_find_their_product_in_the_top_5(
    encoder: Encoder, store: MilvusVectorStore, products: tuple[str, dict[str, np.ndarray]]
) -> None:
    found = 0
    lines = []
    for query, target in catalog.PARAPHRASES.items():
        hits = await semantic.search_products(
            encoder, store, query, limit=5, collection=products[0]
        )
        ranking = [h.product_id for h in hits]
        rank = ranking.index(target) + 1 if target in ranking else None
        found += rank is not None
        lines.append(f"  {query!r} -> {target}: rank {rank}; top: {ranking[:3]}")
    print(f"\nparaphrases in the top 5: {found} of {len(catalog.PARAPHRASES)}", *lines, sep="\n")
    assert len(catalog.PARAPHRASES) == 10
    assert found >= 8


SEEDS = (
    "tempo-carbon-marathon-racer",
    "summit-leather-hiking-boot",
    "cast-iron-skillet-26-cm",
    "gyuto-chefs-knife-21-cm",
    "handheld-gaming-console",
    "the-dragons-heir",
    "bypass-pruning-shears",
    "60-l-aquarium-kit",
    "argan-oil-shampoo",
    "fountain-pen-fine-nib",
)


async def test_similar_products_are_of_the_same_kind(
    store: MilvusVectorStore, products: tuple[str, dict[str, np.ndarray]]
) -> None:
    counts: dict[str, int] = {}
    firsts: dict[str, str] = {}
    lines = []
    for seed in SEEDS:
        hits = await semantic.similar_products(store, seed, limit=5, collection=products[0])
        assert len(hits) == 5
        assert seed not in {h.product_id for h in hits}
        kind = catalog.BY_ID[seed].kind
        counts[seed] = sum(catalog.BY_ID[h.product_id].kind == kind for h in hits)
        firsts[seed] = catalog.BY_ID[hits[0].product_id].kind
        lines.append(f"  {seed}: {counts[seed]}/5 of its kind; {[h.product_id for h in hits]}")
    share = sum(counts.values()) / (5 * len(SEEDS))
    print(f"\nsimilar products of the seed's kind: {share:.0%}", *lines, sep="\n")
    # A kind has 5 products, so at most 4 of the top 5 can share the seed's kind: a majority
    # (3 of 5) for every seed, and the nearest always of its kind.
    assert all(count >= 3 for count in counts.values()), lines
    assert all(firsts[seed] == catalog.BY_ID[seed].kind for seed in SEEDS), lines


async def test_similar_users_share_the_users_taste(
    store: MilvusVectorStore, products: tuple[str, dict[str, np.ndarray]]
) -> None:
    _, vectors = products
    rng = random.Random(11)
    taste_of: dict[str, str] = {}
    points = []
    for taste, kinds in catalog.TASTES.items():
        pool = [item.product_id for item in catalog.CATALOG if item.kind in kinds]
        for i in range(USERS_PER_TASTE):
            user = f"{taste}-{i}"
            taste_of[user] = taste
            engaged = rng.sample(pool, ENGAGEMENTS_PER_USER)
            total = np.sum([vectors[p] for p in engaged], axis=0)
            norm = float(np.linalg.norm(total))
            points.append(
                Point(
                    id=point_id(user),
                    vector=(total / norm).tolist(),
                    payload={
                        "user_id": user,
                        "updated_at": catalog.T0,
                        "norm": norm,
                        "weight": float(ENGAGEMENTS_PER_USER),
                        "events_offset": -1,
                        "chat_offset": -1,
                    },
                )
            )
    name = f"test_profiles_{uuid.uuid4().hex[:12]}"
    await store.ensure_collection(user_profiles_collection(len(points[0].vector), name=name))
    try:
        await store.upsert(name, points)
        hits = await semantic.similar_users(store, "runner-0", limit=5, collection=name)
        print(f"\nsimilar users of runner-0: {[(h.user_id, round(h.score, 3)) for h in hits]}")
        assert "runner-0" not in {h.user_id for h in hits}
        others = USERS_PER_TASTE - 1
        assert [taste_of[h.user_id] for h in hits[:others]] == ["runner"] * others
        for user, taste in taste_of.items():
            hits = await semantic.similar_users(store, user, limit=others, collection=name)
            assert {taste_of[h.user_id] for h in hits} == {taste}, (user, hits)
        with pytest.raises(semantic.UnknownUser):
            await semantic.similar_users(store, "nobody", collection=name)
    finally:
        await store.client.drop_collection(name)


async def test_category_and_price_filters_narrow_the_results(
    encoder: Encoder, store: MilvusVectorStore, products: tuple[str, dict[str, np.ndarray]]
) -> None:
    name = products[0]

    async def ids(**filters: object) -> set[str]:
        hits = await semantic.search_products(
            encoder,
            store,
            "running shoes",
            limit=100,
            collection=name,
            **filters,  # type: ignore[arg-type]
        )
        return {h.product_id for h in hits}

    def expected(category: str | None = None, lo: float = 0.0, hi: float = 1e9) -> set[str]:
        return {
            item.product_id
            for item in catalog.CATALOG
            if (category is None or item.category == category) and lo <= item.price <= hi
        }

    assert await ids(category="fitness") == expected("fitness")
    assert await ids(min_price=100.0, max_price=150.0) == expected(lo=100.0, hi=150.0)
    assert await ids(category="footwear", max_price=120.0) == expected("footwear", hi=120.0)
    assert await ids(min_price=1000.0) == expected(lo=1000.0)
    assert await ids(category="no-such-category") == set()
    # The marathon racer (189) is the best answer until the price excludes it.
    top = await semantic.search_products(
        encoder, store, "running shoes", limit=5, max_price=150.0, collection=name
    )
    assert catalog.MARATHON not in {h.product_id for h in top}
    assert all(h.price <= 150.0 for h in top)


async def test_similar_products_of_an_unknown_product(
    store: MilvusVectorStore, products: tuple[str, dict[str, np.ndarray]]
) -> None:
    with pytest.raises(semantic.UnknownProduct):
        await semantic.similar_products(store, "not-in-the-catalog", collection=products[0])
