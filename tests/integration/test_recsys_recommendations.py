"""recsys-api's recommendations over the real stores of the local stack, each under a namespace
of the test's own: profile vectors in Milvus (collection prefix), the graph in Neo4j written by
graph-writer's own sinks (label prefix), engagement scores in PostgreSQL (a schema), the chat log
in MongoDB (a database), the cache in Redis (a key prefix) and the invalidations on Kafka (a
topic prefix and consumer group).

The data set is small enough to rank by hand (see :data:`EXPECTED_ALICE`). Profile vectors are
set directly (the embedder's job is tested elsewhere) and the chat fallback uses a fixed encoder,
so every similarity here is exact.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np
import numpy.typing as npt
import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from graph_writer.invalidations import KafkaInvalidationPublisher, invalidations_for
from polystream_common.settings import (
    KafkaSettings,
    MongoSettings,
    PostgresSettings,
    ProducerSettings,
    RedisSettings,
)
from polystream_embeddings.encoder import Encoder
from polystream_embeddings.settings import EmbeddingSettings
from polystream_readmodels.collections import CHAT_MESSAGES_COLLECTION
from polystream_readmodels.engagement import ENGAGEMENT_MIGRATIONS
from polystream_vectors.milvus import MilvusVectorStore
from polystream_vectors.settings import MilvusSettings
from polystream_vectors.store import Point, point_id
from recsys_api.app import create_app
from recsys_api.cache import CacheSettings
from recsys_api.deps import Resources
from recsys_api.recommend import RecommendParameters
from recsys_api.settings import RecsysApiSettings

from .graph_fixtures import Graph, event, neo4j_settings, open_graph
from .redis_fixtures import PrivateRedis

pytestmark = pytest.mark.integration

DIM = 384
NOW = datetime.now(UTC)


def unit(*components: float) -> list[float]:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(components)] = components
    return (vector / np.linalg.norm(vector)).tolist()


# alice's neighbours: bob at cosine 0.8, carol at 0.6; frank is orthogonal (below
# min_similarity 0.1, so ignored) and dave has no profile (campaigns only).
PROFILES = {
    "alice": unit(1, 0, 0),
    "bob": unit(0.8, 0.6, 0),
    "carol": unit(0.6, 0.8, 0),
    "frank": unit(0, 0, 1),
}
ERIN_CHAT = "does the trail runner fit wide feet?"  # embedded onto bob's profile (FixedEncoder)

# (user, event type, product, campaign): graph-writer's sinks turn them into INTERACTED counts.
EVENTS: list[tuple[str, str, str | None, str | None]] = [
    ("alice", "view", "p1", None),
    ("bob", "view", "p1", None),
    ("bob", "view", "p2", None),
    ("bob", "click", "p2", None),
    ("bob", "add_to_cart", "p2", None),
    ("bob", "purchase", "p2", None),
    ("bob", "view", "p3", None),
    ("carol", "view", "p3", None),
    ("carol", "click", "p3", None),
    ("carol", "view", "p4", None),
    ("frank", "view", "p5", None),
    ("frank", "click", "p5", None),
    ("frank", "view", "p5", None),
    ("dave", "campaign_view", None, "camp-1"),
]
ENGAGEMENT = {
    ("product", "p2"): 10.0,
    ("product", "p3"): 5.0,
    ("product", "p4"): 20.0,
    ("product", "p5"): 100.0,
    ("campaign", "camp-1"): 1.0,
}
W = 0.7  # RecommendParameters.affinity_weight, engagement 1 - W (no product vectors: no match term)


def _alice() -> list[tuple[str, float, str]]:
    """alice's ranking by the module docstring's formula of recsys_api.recommend."""
    affinity = {
        "p2": 0.8 * math.log1p(4),
        "p3": 0.8 * math.log1p(1) + 0.6 * math.log1p(2),
        "p4": 0.6 * math.log1p(1),
    }
    top_a, top_e = max(affinity.values()), max(ENGAGEMENT[("product", p)] for p in affinity)
    hybrid = sorted(
        (
            (p, W * a / top_a + (1 - W) * ENGAGEMENT[("product", p)] / top_e, "similar_users")
            for p, a in affinity.items()
        ),
        key=lambda item: -item[1],
    )
    # then popular items alice has not seen nor been given, scaled by the best of them
    return [*hybrid, ("p5", 1.0, "popular"), ("camp-1", 0.01, "popular")]


EXPECTED_ALICE = _alice()


class FixedEncoder(Encoder):
    """Known texts to known vectors: the chat fallback's similarity is exact."""

    model_name, dimension, backend, device = "fixed", DIM, "fixed", "cpu"

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.array([self.vectors[t] for t in texts], dtype=np.float32).reshape(-1, DIM)


@pytest.fixture(scope="module")
async def graph(stack: dict[str, str]) -> AsyncIterator[Graph]:
    async with open_graph(stack) as opened:
        records = [
            event(i, user, kind, product=product, campaign=campaign)
            for i, (user, kind, product, campaign) in enumerate(EVENTS)
        ]
        assert not await opened.interactions.write(records)
        yield opened


@pytest.fixture(scope="module")
def pg(stack: dict[str, str]) -> PostgresSettings:
    return PostgresSettings(
        port=int(stack["POSTGRES_PORT"]),
        user=stack["POSTGRES_USER"],
        password=SecretStr(stack["POSTGRES_PASSWORD"]),
        database=stack["POSTGRES_DB"],
    )


@pytest.fixture(scope="module")
async def engagement_schema(pg: PostgresSettings) -> AsyncIterator[str]:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(**pg.connect_kwargs())
    try:
        await ENGAGEMENT_MIGRATIONS.apply(conn, schema)
        await conn.executemany(
            f'INSERT INTO "{schema}".engagement_scores (entity_type, entity_id, score, as_of,'
            " half_life_s) VALUES ($1, $2, $3, $4, 1e12)",
            [(kind, id_, score, NOW) for (kind, id_), score in ENGAGEMENT.items()],
        )
        yield schema
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


@pytest.fixture(scope="module")
async def mongo_db(mongo_url: str) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:10]}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    await client[name][CHAT_MESSAGES_COLLECTION.name].insert_many(
        [
            {"_id": "m1", "user_id": "erin", "event_time": NOW, "text": ERIN_CHAT},
            {
                "_id": "m0",
                "user_id": "erin",
                "event_time": datetime(2020, 1, 1, tzinfo=UTC),
                "text": "an older message",
            },
        ]
    )
    yield name
    await client.drop_database(name)
    await client.close()


@pytest.fixture(scope="module")
def api_settings(
    stack: dict[str, str],
    pg: PostgresSettings,
    engagement_schema: str,
    mongo_db: str,
    graph: Graph,
) -> RecsysApiSettings:
    namespace = f"t{uuid.uuid4().hex[:8]}"
    return RecsysApiSettings(
        collection_prefix=f"{namespace}_",
        label_prefix=graph.labels.prefix,
        embedding=EmbeddingSettings(dimension=DIM),
        milvus=MilvusSettings(
            uri=f"http://127.0.0.1:{stack['MILVUS_PORT']}", read_consistency_level="Strong"
        ),
        neo4j=neo4j_settings(stack),
        postgres=pg,
        postgres_schema=engagement_schema,
        mongo=MongoSettings(
            url=SecretStr(f"mongodb://127.0.0.1:{stack['MONGO_PORT']}"), database=mongo_db
        ),
        redis=RedisSettings(url=SecretStr(f"redis://127.0.0.1:{stack['REDIS_PORT']}/0")),
        cache=CacheSettings(key_prefix=namespace),
        recommend=RecommendParameters(
            min_similarity=0.1, affinity_weight=W, match_weight=0.0, engagement_weight=1 - W
        ),
        kafka=KafkaSettings(
            bootstrap_servers=f"127.0.0.1:{stack['KAFKA_PORT']}", topic_prefix=f"{namespace}."
        ),
        consumer={"group_id": f"{namespace}-recsys", "batch_timeout_s": 0.1},
        service_name=f"recsys-api-{namespace}",
    )


@pytest.fixture(scope="module")
def client(api_settings: RecsysApiSettings) -> Iterator[TestClient]:
    encoder = FixedEncoder({ERIN_CHAT: PROFILES["bob"]})
    app = create_app(api_settings, encoder=encoder)
    with TestClient(app) as client:
        resources: Resources = app.state.resources
        store = resources.store
        assert isinstance(store, MilvusVectorStore)
        points = [
            Point(
                id=point_id(user),
                vector=vector,
                payload={
                    "user_id": user,
                    "updated_at": NOW,
                    "norm": 1.0,
                    "weight": 1.0,
                    "events_offset": -1,
                    "chat_offset": -1,
                },
            )
            for user, vector in PROFILES.items()
        ]

        async def seed() -> None:
            await store.upsert(resources.collections.user_profiles, points)

        async def drop() -> None:
            for name in (resources.collections.products, resources.collections.user_profiles):
                await store.client.drop_collection(name)

        assert client.portal is not None
        client.portal.call(seed)
        try:
            yield client
        finally:
            client.portal.call(drop)


@pytest.fixture(scope="module", autouse=True)
async def _drop_cached_keys(api_settings: RecsysApiSettings) -> AsyncIterator[None]:
    yield
    redis = aioredis.Redis.from_url(api_settings.redis.url.get_secret_value())
    try:
        async for key in redis.scan_iter(match=f"{api_settings.cache.key_prefix}:*"):
            await redis.delete(key)
    finally:
        await redis.aclose()


def cache_requests(result: str) -> float:
    labels = {"service": "recsys-api", "kind": "recommendations", "result": result}
    return REGISTRY.get_sample_value("polystream_cache_requests_total", labels) or 0.0


def ranking(body: dict[str, Any]) -> list[tuple[str, float, str]]:
    return [(item["id"], item["score"], item["reason"]) for item in body["items"]]


def test_alice_gets_what_her_neighbours_did_ranked_by_hand(client: TestClient) -> None:
    response = client.get("/recommendations/alice")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["strategy"] == "hybrid" and body["source"] == "profile"
    got = ranking(body)
    assert [(i, r) for i, _, r in got] == [(i, r) for i, _, r in EXPECTED_ALICE]
    assert [s for _, s, _ in got] == pytest.approx([s for _, s, _ in EXPECTED_ALICE], abs=1e-5)
    # why: p3 came through bob (0.8, 1 view) and carol (0.6, view + click)
    p3 = next(item for item in body["items"] if item["id"] == "p3")
    assert [(v["user_id"], v["interactions"]) for v in p3["via"]] == [("bob", 1), ("carol", 2)]
    assert [v["similarity"] for v in p3["via"]] == pytest.approx([0.8, 0.6], abs=1e-4)
    assert p3["engagement"] == pytest.approx(5.0)
    # the neighbours, closest first; frank (orthogonal) is below min_similarity
    assert [u["user_id"] for u in body["similar_users"]] == ["bob", "carol"]
    # seen items never come back
    assert "p1" not in {item["id"] for item in body["items"]}


def test_k_and_kind_slice_the_ranking(client: TestClient) -> None:
    two = client.get("/recommendations/alice", params={"k": 2}).json()
    assert [i for i, _, _ in ranking(two)] == [i for i, _, _ in EXPECTED_ALICE[:2]]
    campaigns = client.get("/recommendations/alice", params={"kind": "campaign"}).json()
    assert [i for i, _, _ in ranking(campaigns)] == ["camp-1"]


def test_a_user_with_no_profile_and_no_chat_gets_popular_items(client: TestClient) -> None:
    response = client.get("/recommendations/dave")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["strategy"] == "popular" and body["source"] == "none"
    # by engagement, and not camp-1: dave has seen it
    assert [(i, r) for i, _, r in ranking(body)] == [
        ("p5", "popular"),
        ("p4", "popular"),
        ("p2", "popular"),
        ("p3", "popular"),
    ]


def test_a_user_with_only_a_chat_message_is_matched_from_it(client: TestClient) -> None:
    body = client.get("/recommendations/erin").json()
    assert body["source"] == "last_chat" and body["strategy"] == "hybrid"
    # erin's message embeds exactly onto bob's profile; then carol (0.96), alice (0.8)
    assert [u["user_id"] for u in body["similar_users"]] == ["bob", "carol", "alice"]
    # affinity p3 1.748 > p2 1.609 > p1 1.248 > p4 0.665; engagement lifts p2 over p3 and p4
    # over p1 (see recsys_api.recommend's formula)
    assert [i for i, _, r in ranking(body) if r == "similar_users"] == ["p2", "p3", "p4", "p1"]


def test_an_unknown_user_is_a_404_with_a_message(client: TestClient) -> None:
    response = client.get("/recommendations/nobody")
    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]
    assert client.get("/recommendations/bad id!").status_code == 422
    assert client.get("/recommendations/alice", params={"k": 0}).status_code == 422
    assert client.get("/recommendations/alice", params={"k": 101}).status_code == 422


def test_the_second_read_is_a_cache_hit(client: TestClient) -> None:
    hits, misses = cache_requests("hit"), cache_requests("miss")
    first = client.get("/recommendations/carol").json()
    second = client.get("/recommendations/carol").json()
    assert first == second
    assert cache_requests("miss") == misses + 1
    assert cache_requests("hit") == hits + 1


async def _publish_invalidations(api_settings: RecsysApiSettings, records: list[Any]) -> None:
    publisher = KafkaInvalidationPublisher(
        api_settings.kafka, ProducerSettings(linger_ms=5), "test-graph-writer", 10.0
    )
    await publisher.setup()
    try:
        await publisher.publish(invalidations_for(records))
    finally:
        await publisher.close()


async def test_a_new_interaction_invalidates_the_users_cached_recommendations(
    client: TestClient, api_settings: RecsysApiSettings, graph: Graph
) -> None:
    """ivan is a user of this test only (no profile: nobody's neighbour), so what he does
    changes no other test's ranking."""
    # Blocking TestClient calls from this async test are fine: the app runs on the client's own
    # loop and thread; the graph's driver belongs to this test's loop, so it is awaited here.
    assert not await graph.interactions.write([event(1000, "ivan", "view", product="p1")])
    before = client.get("/recommendations/ivan").json()
    assert [i for i, _, _ in ranking(before)] == ["p5", "p4", "p2", "p3", "camp-1"]
    # ivan buys p5: graph-writer writes it, then publishes the invalidation
    records = [event(1001, "ivan", "purchase", product="p5")]
    assert not await graph.interactions.write(records)
    # still cached: the graph changed, the cache does not know yet
    assert client.get("/recommendations/ivan").json() == before
    await _publish_invalidations(api_settings, records)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after = client.get("/recommendations/ivan").json()
        if after != before:
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail("the invalidation did not reach the cache within 60 s")
    assert [i for i, _, _ in ranking(after)] == ["p4", "p2", "p3", "camp-1"]


def test_readyz_checks_every_store(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "milvus": "ok",
        "neo4j": "ok",
        "postgres": "ok",
        "mongodb": "ok",
        "redis": "ok",
    }


def test_redis_down_the_api_answers_from_the_stores(
    api_settings: RecsysApiSettings, private_redis: PrivateRedis
) -> None:
    """A second app on a redis-server of this test's own, killed mid-way: every answer still
    comes, computed from the stores, the fallbacks are counted and /readyz says Redis is down
    without taking the API out of rotation."""
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    settings = api_settings.model_copy(
        update={
            "redis": RedisSettings(url=SecretStr(url)),
            "cache": CacheSettings(
                key_prefix=api_settings.cache.key_prefix, breaker_threshold=2, breaker_cooldown_s=60
            ),
            "invalidations": False,
        }
    )
    encoder = FixedEncoder({ERIN_CHAT: PROFILES["bob"]})
    with TestClient(create_app(settings, encoder=encoder)) as client:
        assert ranking(client.get("/recommendations/alice").json())[0][0] == "p2"
        private_redis.kill()
        fallbacks = sum(
            REGISTRY.get_sample_value(
                "polystream_cache_fallbacks_total", {"service": "recsys-api", "reason": reason}
            )
            or 0.0
            for reason in ("connection", "timeout", "circuit_open")
        )
        for _ in range(5):
            response = client.get("/recommendations/alice")
            assert response.status_code == 200, response.text
            got = ranking(response.json())
            assert [i for i, _, _ in got] == [i for i, _, _ in EXPECTED_ALICE]
        after = sum(
            REGISTRY.get_sample_value(
                "polystream_cache_fallbacks_total", {"service": "recsys-api", "reason": reason}
            )
            or 0.0
            for reason in ("connection", "timeout", "circuit_open")
        )
        assert after >= fallbacks + 5  # each read skipped Redis: failed, then circuit open
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["redis"].startswith("down")
