"""The hybrid Recommender over the in-memory adapters, on hand-made data small enough to rank by
hand: the order and the reasons, what is excluded, and each fallback. No network."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from polystream_embeddings.testing import HashingEncoder
from polystream_vectors.collections import (
    USER_PROFILES,
    products_collection,
    user_profiles_collection,
)
from polystream_vectors.store import Point, point_id
from polystream_vectors.testing import InMemoryVectorStore
from recsys_api.recommend import Recommender, RecommendParameters, UnknownUser
from recsys_api.testing import InMemoryChat, InMemoryEngagement, InMemoryGraph

# The weights the hand-computed rankings below use (no product collection: no match term).
WEIGHTS = {"affinity_weight": 0.7, "match_weight": 0.0, "engagement_weight": 0.3}
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# alice's nearest profiles are bob (cosine 0.8), then carol (0.6); dave points elsewhere (0).
PROFILES = {
    "alice": [1.0, 0.0, 0.0],
    "bob": [0.8, 0.6, 0.0],
    "carol": [0.6, 0.8, 0.0],
    "dave": [0.0, 0.0, 1.0],
}


async def profile_store(profiles: dict[str, list[float]], dimension: int) -> InMemoryVectorStore:
    store = InMemoryVectorStore()
    await store.ensure_collection(user_profiles_collection(dimension))
    await store.upsert(
        USER_PROFILES,
        [Point(point_id(user), vector, {"user_id": user}) for user, vector in profiles.items()],
    )
    return store


def interaction_graph() -> InMemoryGraph:
    graph = InMemoryGraph()
    graph.add("alice", "product", "p1", 2)
    graph.add("bob", "product", "p1", 1)
    graph.add("bob", "product", "p2", 3)
    graph.add("bob", "product", "p3", 1)
    graph.add("bob", "campaign", "c1", 1)
    graph.add("carol", "product", "p3", 1)
    graph.add("carol", "product", "p4", 1)
    graph.add("dave", "product", "p5", 5)
    graph.add("erin", "product", "p2", 1)  # in the graph, but no profile vector yet
    return graph


ENGAGEMENT = [
    ("product", "p1", 50.0),
    ("product", "p2", 10.0),
    ("product", "p3", 20.0),
    ("product", "p5", 100.0),
    ("campaign", "c1", 5.0),
]


async def recommender(
    parameters: RecommendParameters | None = None,
    chat: InMemoryChat | None = None,
) -> Recommender:
    return Recommender(
        await profile_store(PROFILES, 3),
        USER_PROFILES,
        interaction_graph(),
        InMemoryEngagement(ENGAGEMENT),
        chat=chat,
        encoder=HashingEncoder(3) if chat else None,
        parameters=parameters or RecommendParameters(similar_users=2, **WEIGHTS),
        clock=lambda: NOW,
    )


async def test_hybrid_ranks_by_affinity_and_engagement_with_reasons() -> None:
    # affinity = sum over neighbours of similarity * log1p(their interactions):
    #   p2: bob 0.8*log(4) = 1.109; p3: bob 0.8*log(2) + carol 0.6*log(2) = 0.970;
    #   p4: carol 0.6*log(2) = 0.416.
    # score = 0.7 * affinity / 1.109 + 0.3 * engagement / 20:
    #   p3: 0.612 + 0.3 = 0.912; p2: 0.7 + 0.15 = 0.85; p4: 0.263 + 0 = 0.263.
    answer = await (await recommender()).recommend("alice", 3, kinds=("product",))

    assert answer.strategy == "hybrid"
    assert answer.source == "profile"
    assert [(hit.user_id, round(hit.score, 6)) for hit in answer.similar_users] == [
        ("bob", 0.8),
        ("carol", 0.6),
    ]
    assert [item.id for item in answer.items] == ["p3", "p2", "p4"]
    assert all(item.reason == "similar_users" for item in answer.items)
    p3, p2, p4 = answer.items
    # max affinity is p2's, 0.8 * log(4) = 1.6 * log(2): the ratios are exact fractions.
    assert p3.score == pytest.approx(0.7 * 1.4 / 1.6 + 0.3 * 20 / 20, abs=1e-6)
    assert p2.score == pytest.approx(0.7 * 1.0 + 0.3 * 10 / 20, abs=1e-6)
    assert p4.score == pytest.approx(0.7 * 0.6 / 1.6, abs=1e-6)
    assert p3.affinity == pytest.approx((0.8 + 0.6) * math.log(2))
    assert p3.engagement == 20.0
    assert p4.engagement == 0.0
    # The users an item came through, closest first, with their interaction counts.
    assert [(v.user_id, round(v.similarity, 6), v.interactions) for v in p3.via] == [
        ("bob", 0.8, 1),
        ("carol", 0.6, 1),
    ]
    assert [(v.user_id, round(v.similarity, 6), v.interactions) for v in p2.via] == [
        ("bob", 0.8, 3)
    ]


async def test_what_the_user_has_is_never_recommended() -> None:
    # p1 is bob's and the second most popular item, but alice has it already.
    answer = await (await recommender()).recommend("alice", 10)
    ids = [item.id for item in answer.items]
    assert "p1" not in ids
    assert len(ids) == len(set(ids))


async def test_campaigns_are_candidates_unless_only_products_are_asked() -> None:
    recsys = await recommender()
    both = await recsys.recommend("alice", 10)
    products = await recsys.recommend("alice", 10, kinds=("product",))
    assert ("campaign", "c1") in {(item.kind, item.id) for item in both.items}
    assert {item.kind for item in products.items} == {"product"}


async def test_a_short_hybrid_list_is_topped_up_with_popular_items() -> None:
    answer = await (await recommender()).recommend("alice", 5, kinds=("product",))
    # Three found through neighbours; p5 (engagement 100) tops it up; p1 is alice's already.
    assert answer.strategy == "hybrid"
    assert [(item.id, item.reason) for item in answer.items] == [
        ("p3", "similar_users"),
        ("p2", "similar_users"),
        ("p4", "similar_users"),
        ("p5", "popular"),
    ]


async def test_min_similarity_drops_far_neighbours_and_what_they_bring() -> None:
    recsys = await recommender(RecommendParameters(similar_users=2, min_similarity=0.7, **WEIGHTS))
    answer = await recsys.recommend("alice", 2, kinds=("product",))
    assert [hit.user_id for hit in answer.similar_users] == ["bob"]
    assert [item.id for item in answer.items] == ["p2", "p3"]  # p4 was carol's only
    assert {v.user_id for item in answer.items for v in item.via} == {"bob"}


async def test_a_user_without_a_profile_gets_popular_items_they_do_not_have() -> None:
    answer = await (await recommender()).recommend("erin", 3, kinds=("product",))
    assert answer.strategy == "popular"
    assert answer.source == "none"
    assert answer.similar_users == ()
    # p2 is erin's; the others by engagement, scores relative to the best.
    assert [(item.id, item.reason, item.score) for item in answer.items] == [
        ("p5", "popular", 1.0),
        ("p1", "popular", 0.5),
        ("p3", "popular", 0.2),
    ]


async def test_a_user_with_only_a_chat_message_is_placed_by_its_vector() -> None:
    encoder = HashingEncoder(64)
    runner, barista = encoder.encode(["trail running shoes", "espresso coffee grinder"])
    graph = InMemoryGraph()
    graph.add("runner", "product", "shoe", 2)
    graph.add("barista", "product", "grinder", 2)
    recsys = Recommender(
        await profile_store({"runner": runner.tolist(), "barista": barista.tolist()}, 64),
        USER_PROFILES,
        graph,
        InMemoryEngagement([("product", "grinder", 100.0), ("product", "shoe", 1.0)]),
        encoder=encoder,
        chat=InMemoryChat({"newbie": "which trail running shoes are waterproof"}),
        parameters=RecommendParameters(similar_users=1, **WEIGHTS),
        clock=lambda: NOW,
    )

    answer = await recsys.recommend("newbie", 1, kinds=("product",))

    assert answer.source == "last_chat"
    assert answer.strategy == "hybrid"
    assert [hit.user_id for hit in answer.similar_users] == ["runner"]
    assert [(item.id, item.reason) for item in answer.items] == [("shoe", "similar_users")]


async def test_a_user_no_store_knows_is_unknown() -> None:
    recsys = await recommender(chat=InMemoryChat({"someone-else": "hello"}))
    with pytest.raises(UnknownUser):
        await recsys.recommend("zoe")


@pytest.mark.parametrize("k", [0, -1, 101])
async def test_k_outside_1_to_100_is_refused(k: int) -> None:
    with pytest.raises(ValueError, match="k must be"):
        await (await recommender()).recommend("alice", k)


async def test_an_empty_user_or_no_kinds_is_refused() -> None:
    recsys = await recommender()
    with pytest.raises(ValueError, match="user_id"):
        await recsys.recommend("")
    with pytest.raises(ValueError, match="kinds"):
        await recsys.recommend("alice", 10, kinds=())


async def test_the_content_side_adds_products_near_the_user_and_ranks_by_match() -> None:
    """With a product collection, products nearest alice's vector join the candidates
    (``profile_match``, no via) and every product's cosine with her vector is a term of the
    score: p9, which nobody touched, lies on her vector and wins on match alone."""
    store = await profile_store(PROFILES, 3)
    await store.ensure_collection(products_collection(3, "products"))
    vectors = {
        "p2": [0.0, 1.0, 0.0],
        "p3": [0.6, 0.8, 0.0],
        "p4": [0.0, 0.0, 1.0],
        "p9": [1.0, 0.0, 0.0],
    }
    await store.upsert(
        "products", [Point(point_id(p), v, {"product_id": p}) for p, v in vectors.items()]
    )
    recsys = Recommender(
        store,
        USER_PROFILES,
        interaction_graph(),
        InMemoryEngagement(ENGAGEMENT),
        products="products",
        parameters=RecommendParameters(
            similar_users=2,
            vector_candidates=2,
            affinity_weight=0.0,
            match_weight=1.0,
            engagement_weight=0.0,
        ),
        clock=lambda: NOW,
    )
    answer = await recsys.recommend("alice", 4, kinds=("product",))
    got = [(i.id, i.reason, i.score) for i in answer.items]
    # match = cosine with alice's [1, 0, 0]: p9 1.0, p3 0.6, p2 and p4 0; p1 is hers already
    assert [(i, r) for i, r, _ in got] == [
        ("p9", "profile_match"),
        ("p3", "similar_users"),
        ("p2", "similar_users"),
        ("p4", "similar_users"),
    ]
    assert [s for _, _, s in got] == pytest.approx([1.0, 0.6, 0.0, 0.0])
    assert answer.items[0].via == () and answer.items[1].match == pytest.approx(0.6)


async def test_weights_must_be_non_negative_and_not_all_zero() -> None:
    with pytest.raises(ValueError, match="weights"):
        RecommendParameters(affinity_weight=0, match_weight=0, engagement_weight=0)
    with pytest.raises(ValueError, match="weights"):
        RecommendParameters(affinity_weight=-1)
