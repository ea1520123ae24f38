"""The embedder end to end, with the real model and the real Milvus server: the catalog, chat
messages and user events go through Kafka to vectors; the embedder is SIGKILLed mid-run and
restarted; counts are exact, every user's profile equals a recomputation from the same messages
(no interaction counted twice), the products are searchable by meaning, and deleted products are
gone.

Runs in a namespace of its own (topics, group, collections under a prefix): see conftest.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pymilvus import MilvusClient
from pymilvus.client.types import LoadState

from embedder.profiles import CHAT, EVENTS, Interaction, apply, empty_profile
from embedder.settings import ProfileSettings
from polystream_common.schemas import ChatMessage
from polystream_common.topics import CHAT_MESSAGES, PRODUCTS, USER_EVENTS
from polystream_embeddings.encoder import load_encoder
from polystream_embeddings.settings import EmbeddingSettings
from polystream_vectors import semantic
from polystream_vectors.collections import products_collection
from polystream_vectors.milvus import MilvusVectorStore
from polystream_vectors.settings import MilvusSettings
from polystream_vectors.store import point_id

from .conftest import (
    MODEL_DIR,
    E2ENamespace,
    delete_products,
    group_lag,
    read_all,
    run_producer,
    wait_until,
)

pytestmark = pytest.mark.e2e

MODULE = "embedder"
CATALOG = 300  # the generator's catalog: prod-00000 .. prod-00299
ACTIVITY = 900  # chat messages and user events after it
DELETED = [f"prod-{i:05d}" for i in range(0, CATALOG, 30)]
PROFILES = ProfileSettings()  # the embedder's defaults, which the test leaves as they are


def count(milvus: MilvusClient, collection: str) -> int:
    """Points in ``collection``; 0 until the embedder has created and loaded it."""
    if not milvus.has_collection(collection):
        return 0
    if milvus.get_load_state(collection)["state"] != LoadState.Loaded:
        return 0
    rows = milvus.query(
        collection, filter="id > 0", output_fields=["count(*)"], consistency_level="Strong"
    )
    return int(rows[0]["count(*)"])


def everything(milvus: MilvusClient, collection: str) -> dict[int, dict[str, Any]]:
    rows = milvus.query(
        collection,
        filter="id > 0",
        output_fields=["*"],
        limit=16_000,
        consistency_level="Strong",
    )
    return {int(row["id"]): row for row in rows}


def expected_profiles(
    bootstrap: str, ns: E2ENamespace, products: dict[int, Any], chats: dict[int, Any]
) -> dict[str, Any]:
    """Every user's profile recomputed from the topics' messages and the stored vectors."""
    by_user: dict[str, list[Interaction]] = {}
    for stream, source in ((CHAT_MESSAGES, CHAT), (USER_EVENTS, EVENTS)):
        for msg in read_all(bootstrap, ns.stream(stream).topic, 1):
            event = stream.decode(msg.value())
            if isinstance(event, ChatMessage):
                vector, weight = (
                    chats[point_id(str(event.event_id))]["vector"],
                    PROFILES.chat_weight,
                )
            else:
                weight = PROFILES.event_weights[event.event_type]
                product = products.get(point_id(event.product_id or ""))
                if product is None:  # no product named: the event moves no profile
                    continue
                vector = product["vector"]
            by_user.setdefault(event.user_id, []).append(
                Interaction(
                    event.user_id,
                    np.asarray(vector, np.float32),
                    weight,
                    event.event_time,
                    source,
                    msg.partition(),
                    msg.offset(),
                )
            )
    half_life_s = PROFILES.half_life_hours * 3600
    profiles = {}
    for user, items in by_user.items():
        profile = empty_profile(user, 384)
        for item in items:
            profile = apply(profile, item, half_life_s)
        profiles[user] = profile
    return profiles


def test_sigkill_and_restart_leave_exact_vectors_and_profiles_and_deletes_reach_milvus(
    tmp_path: Path,
    services: Any,
    namespace: E2ENamespace,
    kafka_bootstrap: str,
    model_dir: Path,  # the export the service loads (MODEL_DIR), made if missing
) -> None:
    ns = namespace
    env = ns.env(MODULE, CONSUMER__BATCH_SIZE="64")
    prefix = ns.collection_prefix
    products_c, chats_c, profiles_c = (
        f"{prefix}{n}" for n in ("products", "chat_messages", "user_profiles")
    )
    milvus = MilvusClient(uri=ns.milvus_uri)

    # 1. The catalog first, so every event's product has a vector when the event arrives.
    report = run_producer(
        ["load", "--count", str(CATALOG), "--mix", "products=1", "--seed", "7", "--quiet"],
        tmp_path / "catalog.json",
        ns.env("producer"),
    )
    assert int(report["acked"]) == CATALOG
    first = services(MODULE, env)
    wait_until(
        lambda: count(milvus, products_c) == CATALOG,
        300,
        "the catalog's vectors",
        service=first,
    )

    # 2. Users chat and interact; the embedder is killed part-way through.
    report = run_producer(
        [
            "load",
            "--count",
            str(ACTIVITY),
            "--mix",
            "chat=1,user-events=2",
            "--seed",
            "8",
            "--quiet",
        ],
        tmp_path / "activity.json",
        ns.env("producer"),
    )
    assert int(report["acked"]) == ACTIVITY and report["errors"] == 0
    wait_until(
        lambda: count(milvus, chats_c) >= 64, 300, "some chat vectors", service=first, every_s=0.1
    )
    first.kill()
    chats_sent = read_all(kafka_bootstrap, ns.stream(CHAT_MESSAGES).topic, 1)
    assert count(milvus, chats_c) < len(chats_sent), "killed too late to prove anything"

    second = services(MODULE, env)
    wait_until(
        lambda: all(
            group_lag(ns.bootstrap, ns.group(MODULE), ns.stream(s).topic) == 0
            for s in (PRODUCTS, CHAT_MESSAGES, USER_EVENTS)
        ),
        600,
        "lag 0 on every input",
        service=second,
    )

    # 3. Exact: one point per product and per message, one profile per active user, each equal
    # to the recomputation (a redelivered interaction counted twice would change its weight).
    products, chats = everything(milvus, products_c), everything(milvus, chats_c)
    assert len(products) == CATALOG
    assert set(chats) == {
        point_id(str(CHAT_MESSAGES.decode(m.value()).event_id)) for m in chats_sent
    }
    expected = expected_profiles(kafka_bootstrap, ns, products, chats)
    stored = {row["user_id"]: row for row in everything(milvus, profiles_c).values()}
    assert set(stored) == set(expected)
    for user, profile in expected.items():
        row = stored[user]
        assert row["weight"] == pytest.approx(profile.weight, rel=1e-6), user
        assert row["events_offset"] == profile.events_offset, user
        assert row["chat_offset"] == profile.chat_offset, user
        cosine = float(np.dot(np.asarray(row["vector"]), profile.vector()))
        assert cosine > 0.9999, user

    # 4. The catalog is searchable by meaning through the read side recsys-api uses.
    async def search() -> list[Any]:
        encoder = load_encoder(EmbeddingSettings(model_dir=MODEL_DIR, backend="onnx"))
        async with MilvusVectorStore(MilvusSettings(uri=ns.milvus_uri)) as store:
            await store.ensure_collection(products_collection(encoder.dimension, products_c))
            return await semantic.search_products(
                encoder, store, "running shoes", limit=5, collection=products_c
            )

    hits = asyncio.run(search())
    assert len(hits) == 5 and hits[0].score > 0.3

    # 5. Tombstones delete the products from the store.
    assert delete_products(ns, DELETED)["deleted"] == DELETED
    wait_until(
        lambda: count(milvus, products_c) == CATALOG - len(DELETED),
        120,
        "the deleted products gone",
        service=second,
    )
    remaining = {row["product_id"] for row in everything(milvus, products_c).values()}
    assert remaining.isdisjoint(DELETED)

    for stream in (PRODUCTS, CHAT_MESSAGES, USER_EVENTS):
        assert read_all(kafka_bootstrap, ns.stream(stream).dlq_topic, 0, timeout_s=5) == []
    assert second.terminate() == 0
    milvus.close()
