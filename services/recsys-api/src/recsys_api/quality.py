"""Offline quality of the recommender: precision@k, recall@k and NDCG@k of the hybrid
:class:`~recsys_api.recommend.Recommender` against three baselines, on the same interactions.

The protocol (bench/recsys_quality.py reports it, tests/unit/recsys_api/test_recommend_quality.py
asserts on it):

1. **Split by time, per user.** A user's interactions (events with a product or a campaign, as
   graph-writer reads them) are sorted by event time; the earlier ``train_share`` are training
   data, the rest held out. The *relevant* set is the products of the held-out interactions that
   are not among the training ones: a recommender never shows what the user has, so only new
   products can be hit. Users with no relevant product are not scored.
2. **Stores from training data only**, the way the services fill them: product vectors of
   :func:`~polystream_vectors.collections.product_text` (the catalog, no interactions), profile
   vectors as the embedder builds them (``embedder.profiles``: the normalised, decayed, weighted
   sum of the vectors of the products a user touched), the interaction graph (graph-writer:
   counts per user and target), engagement scores (the aggregator: weighted by event type,
   decayed to the end of the training data).
3. **Four methods, products only**, each excluding the user's training items:
   ``hybrid`` (the Recommender, ``kinds=("product",)``), ``popular`` (top engagement),
   ``vector`` (products nearest the profile vector) and ``graph`` (co-interaction: the users
   sharing the most training targets, as ``polystream_readmodels.graph.similar_users`` ranks
   them, then their products by how many of them touched each, then by interactions).

No chat messages: the producer's sessions carry none, so no profile has a chat part and the
last-chat fallback is not exercised here (tests/unit/recsys_api/test_recommend.py covers it).
The weights and half-lives default to the embedder's and the aggregator's settings; the quality
test checks they still agree, since this package cannot import those services.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from polystream_common.schemas import AnyUserEvent, Product
from polystream_embeddings.encoder import Encoder
from polystream_readmodels.graph import TargetKind
from polystream_vectors.collections import (
    PRODUCTS,
    USER_PROFILES,
    product_point,
    product_text,
    products_collection,
    user_profiles_collection,
)
from polystream_vectors.store import Point, point_id
from polystream_vectors.testing import InMemoryVectorStore
from recsys_api.recommend import Recommender, RecommendParameters
from recsys_api.testing import InMemoryEngagement, InMemoryGraph

METHODS = ("hybrid", "popular", "vector", "graph")
Target = tuple[TargetKind, str]


@dataclass(frozen=True, slots=True)
class QualityParameters:
    """The protocol's knobs. Weights and half-lives are the services' defaults:
    ``embedder.settings.ProfileSettings`` and ``aggregator.settings.EngagementSettings``."""

    k: int = 10
    train_share: float = 0.8
    profile_half_life_s: float = 168 * 3600.0
    profile_weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "view": 1.0,
            "click": 2.0,
            "add_to_cart": 3.0,
            "purchase": 5.0,
            "campaign_view": 0.5,
            "campaign_click": 1.0,
        }
    )
    engagement_half_life_s: float = 6 * 3600.0
    engagement_weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "view": 1.0,
            "click": 3.0,
            "add_to_cart": 8.0,
            "purchase": 20.0,
            "campaign_view": 1.0,
            "campaign_click": 3.0,
        }
    )
    graph_neighbours: int = 20
    """Co-interaction neighbours of the ``graph`` baseline (the hybrid's ``similar_users``)."""


# -- metrics -------------------------------------------------------------------------------------


def precision_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Relevant items among the first ``k``, over ``k`` (a short list is not rewarded)."""
    wanted = set(relevant)
    return sum(1 for item in ranked[:k] if item in wanted) / k


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Relevant items among the first ``k``, over all relevant items (0 when there are none)."""
    wanted = set(relevant)
    if not wanted:
        return 0.0
    return sum(1 for item in ranked[:k] if item in wanted) / len(wanted)


def ndcg_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Binary-relevance NDCG: the discounted gain of the hits over that of a perfect list."""
    wanted = set(relevant)
    if not wanted:
        return 0.0
    dcg = sum(1 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in wanted)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(wanted), k)))
    return dcg / ideal


# -- the split -----------------------------------------------------------------------------------


def target_of(event: AnyUserEvent) -> Target | None:
    """What graph-writer makes of an event: a campaign event is an interaction with the
    campaign, any other event with its product (``graph_writer.rows.target_of``)."""
    if event.event_type in ("campaign_view", "campaign_click"):
        return ("campaign", event.campaign_id) if event.campaign_id else None
    return ("product", event.product_id) if event.product_id else None


@dataclass(frozen=True, slots=True)
class Split:
    """Each user's training events and relevant (held-out, new) products."""

    train: dict[str, list[AnyUserEvent]]
    relevant: dict[str, frozenset[str]]
    held_out: dict[str, int]
    """Held-out interactions per user (relevant or not)."""


def split_by_time(events: Iterable[AnyUserEvent], train_share: float) -> Split:
    """Per user, the earlier ``train_share`` of their interactions (by event time, then order of
    arrival) for training; the products of the rest not seen in training are relevant."""
    if not 0 < train_share < 1:
        raise ValueError(f"train_share must be in (0, 1), got {train_share}")
    by_user: defaultdict[str, list[AnyUserEvent]] = defaultdict(list)
    for event in events:
        if target_of(event) is not None:
            by_user[event.user_id].append(event)
    train: dict[str, list[AnyUserEvent]] = {}
    relevant: dict[str, frozenset[str]] = {}
    held_out: dict[str, int] = {}
    for user, own in by_user.items():
        ordered = sorted(enumerate(own), key=lambda pair: (pair[1].event_time, pair[0]))
        cut = max(1, round(train_share * len(ordered)))
        train[user] = [event for _, event in ordered[:cut]]
        later = [event for _, event in ordered[cut:]]
        seen = {event.product_id for event in train[user] if event.product_id}
        relevant[user] = frozenset(
            target[1]
            for event in later
            if (target := target_of(event)) and target[0] == "product" and target[1] not in seen
        )
        held_out[user] = len(later)
    return Split(train, relevant, held_out)


# -- the stores ----------------------------------------------------------------------------------


@dataclass
class TrainedStores:
    """The read models as the services would have them after the training events."""

    store: InMemoryVectorStore
    graph: InMemoryGraph
    engagement: InMemoryEngagement
    now: datetime
    profiles: dict[str, list[float]]
    seen: dict[str, set[Target]]


def _decay(elapsed_s: float, half_life_s: float) -> float:
    return math.pow(2.0, -elapsed_s / half_life_s)


def user_profiles(
    train: Mapping[str, Sequence[AnyUserEvent]],
    product_vectors: Mapping[str, np.ndarray],
    parameters: QualityParameters,
) -> dict[str, tuple[np.ndarray, float, float, datetime]]:
    """Per user with a weighted product event: (unit profile, norm of the sum, decayed weight,
    time of the latest event), as ``embedder.profiles.apply`` folds them, decaying to the
    latest event."""
    profiles: dict[str, tuple[np.ndarray, float, float, datetime]] = {}
    for user, events in train.items():
        used = [
            e
            for e in events
            if e.product_id in product_vectors
            and parameters.profile_weights.get(e.event_type, 0.0) > 0
        ]
        if not used:
            continue
        as_of = max(e.event_time for e in used)
        total = np.zeros_like(next(iter(product_vectors.values())))
        weight = 0.0
        for e in used:
            w = parameters.profile_weights[e.event_type] * _decay(
                (as_of - e.event_time).total_seconds(), parameters.profile_half_life_s
            )
            total = total + np.float32(w) * product_vectors[e.product_id or ""]
            weight += w
        norm = float(np.linalg.norm(total))
        profiles[user] = (total / norm if norm > 0 else total, norm, weight, as_of)
    return profiles


async def build_stores(
    products: Sequence[Product],
    train: Mapping[str, Sequence[AnyUserEvent]],
    encoder: Encoder,
    parameters: QualityParameters,
) -> TrainedStores:
    """Fill the in-memory stores from the catalog and the training events only."""
    texts = [product_text(p) for p in products]
    vectors = await asyncio.to_thread(encoder.encode, texts)
    by_id = {p.product_id: vectors[i] for i, p in enumerate(products)}
    category = {p.product_id: p.category for p in products}

    store = InMemoryVectorStore()
    await store.ensure_collection(products_collection(encoder.dimension))
    await store.ensure_collection(user_profiles_collection(encoder.dimension))
    await store.upsert(PRODUCTS, [product_point(p, by_id[p.product_id]) for p in products])
    profiles = user_profiles(train, by_id, parameters)
    await store.upsert(
        USER_PROFILES,
        [
            # The embedder's point (embedder.profiles.to_point); no Kafka offsets here.
            Point(
                id=point_id(user),
                vector=vector.tolist(),
                payload={
                    "user_id": user,
                    "updated_at": as_of,
                    "norm": norm,
                    "weight": weight,
                    "events_offset": -1,
                    "chat_offset": -1,
                },
            )
            for user, (vector, norm, weight, as_of) in sorted(profiles.items())
        ],
    )

    graph = InMemoryGraph()
    seen: dict[str, set[Target]] = {}
    all_events = [e for events in train.values() for e in events]
    for event in all_events:
        target = target_of(event)
        assert target is not None  # split_by_time kept only events with a target
        kind, id_ = target
        graph.add(event.user_id, kind, id_, category=category.get(id_))
        seen.setdefault(event.user_id, set()).add(target)

    # The aggregator scores every entity an event names: its product and its campaign.
    now = max(e.event_time for e in all_events)
    scores: defaultdict[Target, float] = defaultdict(float)
    for event in all_events:
        w = parameters.engagement_weights.get(event.event_type, 0.0) * _decay(
            (now - event.event_time).total_seconds(), parameters.engagement_half_life_s
        )
        if event.product_id:
            scores[("product", event.product_id)] += w
        if event.campaign_id:
            scores[("campaign", event.campaign_id)] += w
    engagement = InMemoryEngagement((kind, id_, s) for (kind, id_), s in scores.items())
    return TrainedStores(
        store,
        graph,
        engagement,
        now,
        {user: vector.tolist() for user, (vector, *_) in profiles.items()},
        seen,
    )


# -- the methods ---------------------------------------------------------------------------------


def _seen_products(stores: TrainedStores, user: str) -> set[str]:
    return {id_ for kind, id_ in stores.seen.get(user, set()) if kind == "product"}


async def rank_popular(stores: TrainedStores, user: str, k: int) -> list[str]:
    seen = _seen_products(stores, user)
    top = await stores.engagement.popular("product", k + len(seen), stores.now)
    return [id_ for id_, _ in top if id_ not in seen][:k]


async def rank_vector(stores: TrainedStores, user: str, k: int) -> list[str]:
    profile = stores.profiles.get(user)
    if profile is None:
        return []
    seen = _seen_products(stores, user)
    hits = await stores.store.search(PRODUCTS, profile, limit=k + len(seen))
    ids = [str(hit.payload["product_id"]) for hit in hits]
    return [id_ for id_ in ids if id_ not in seen][:k]


def co_interaction_neighbours(stores: TrainedStores, user: str, limit: int) -> list[str]:
    """The users sharing the most targets with ``user``, then by their interactions with those
    targets, then by id: ``polystream_readmodels.graph.similar_users`` over the in-memory graph."""
    counts = stores.graph.counts
    mine: Mapping[Target, int] = counts.get(user, {})
    overlap: Counter[str] = Counter()
    interactions: Counter[str] = Counter()
    for other, theirs in counts.items():
        if other == user:
            continue
        shared = mine.keys() & theirs.keys()
        if shared:
            overlap[other] = len(shared)
            interactions[other] = sum(theirs[t] for t in shared)
    ranked = sorted(overlap, key=lambda u: (-overlap[u], -interactions[u], u))
    return ranked[:limit]


async def rank_graph(stores: TrainedStores, user: str, k: int, neighbours: int) -> list[str]:
    seen = _seen_products(stores, user)
    users: Counter[str] = Counter()
    interactions: Counter[str] = Counter()
    for other in co_interaction_neighbours(stores, user, neighbours):
        for (kind, id_), n in stores.graph.counts[other].items():
            if kind == "product" and id_ not in seen:
                users[id_] += 1
                interactions[id_] += n
    return sorted(users, key=lambda id_: (-users[id_], -interactions[id_], id_))[:k]


# -- the evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scores:
    """Means over the users scored."""

    precision: float
    recall: float
    ndcg: float


@dataclass
class QualityReport:
    k: int
    scores: dict[str, Scores]
    users_scored: int
    data: dict[str, float]
    """Sizes of the data set: users, products, events, interactions, relevant items."""
    hybrid: dict[str, float]
    """How the hybrid answered, per user scored: strategies, reasons of its items, neighbours
    found and the cosine similarity of the nearest and the farthest of them."""
    rankings: dict[str, dict[str, list[str]]]
    """method -> user -> the products it ranked (for analysis; not written to the results)."""
    relevant: dict[str, frozenset[str]]

    def figures(self) -> dict[str, object]:
        """The report as JSON-ready figures (the rankings left out)."""
        return {
            "users_scored": self.users_scored,
            "scores": {
                method: {
                    f"precision@{self.k}": round(s.precision, 4),
                    f"recall@{self.k}": round(s.recall, 4),
                    f"ndcg@{self.k}": round(s.ndcg, 4),
                }
                for method, s in self.scores.items()
            },
            "data": {key: round(value, 3) for key, value in self.data.items()},
            "hybrid": {key: round(value, 4) for key, value in self.hybrid.items()},
        }


async def evaluate(
    products: Sequence[Product],
    events: Sequence[AnyUserEvent],
    encoder: Encoder,
    *,
    parameters: QualityParameters | None = None,
    recommend_parameters: RecommendParameters | None = None,
) -> QualityReport:
    """Split ``events`` by time, build the stores from the training part and score the four
    methods on the held-out part (see the module docstring)."""
    p = parameters or QualityParameters()
    split = split_by_time(events, p.train_share)
    stores = await build_stores(products, split.train, encoder, p)
    recommender = Recommender(
        stores.store,
        USER_PROFILES,
        stores.graph,
        stores.engagement,
        products=PRODUCTS,
        parameters=recommend_parameters,
        clock=lambda: stores.now,
    )
    users = sorted(user for user, relevant in split.relevant.items() if relevant)
    hybrid_stats: defaultdict[str, float] = defaultdict(float)

    async def rank_hybrid(user: str) -> list[str]:
        answer = await recommender.recommend(user, p.k, kinds=("product",))
        hybrid_stats[f"strategy_{answer.strategy}"] += 1
        hybrid_stats["similar_users"] += len(answer.similar_users)
        if answer.similar_users:
            similarity = [hit.score for hit in answer.similar_users]
            hybrid_stats["similarity_max"] += max(similarity)
            hybrid_stats["similarity_min"] += min(similarity)
        for item in answer.items:
            hybrid_stats[f"items_{item.reason}"] += 1
            if ("product", item.id) in stores.seen.get(user, set()):
                hybrid_stats["items_already_seen"] += 1
        return [item.id for item in answer.items]

    methods: dict[str, Callable[[str], Awaitable[list[str]]]] = {
        "hybrid": rank_hybrid,
        "popular": lambda user: rank_popular(stores, user, p.k),
        "vector": lambda user: rank_vector(stores, user, p.k),
        "graph": lambda user: rank_graph(stores, user, p.k, p.graph_neighbours),
    }
    rankings: dict[str, dict[str, list[str]]] = {m: {} for m in methods}
    scores: dict[str, Scores] = {}
    for method, rank in methods.items():
        for user in users:
            rankings[method][user] = await rank(user)
        n = max(len(users), 1)
        scores[method] = Scores(
            precision=sum(
                precision_at_k(rankings[method][u], split.relevant[u], p.k) for u in users
            )
            / n,
            recall=sum(recall_at_k(rankings[method][u], split.relevant[u], p.k) for u in users) / n,
            ndcg=sum(ndcg_at_k(rankings[method][u], split.relevant[u], p.k) for u in users) / n,
        )
    n_users = max(len(users), 1)
    interactions = [len(events) for events in split.train.values()]
    product_interactions = [
        sum(
            1
            for e in evs
            if e.product_id and e.event_type not in ("campaign_view", "campaign_click")
        )
        for evs in split.train.values()
    ]
    data = {
        "users": float(len(split.train)),
        "products": float(len(products)),
        "events": float(len(events)),
        "train_interactions_per_user": sum(interactions) / max(len(interactions), 1),
        "train_product_interactions_per_user": sum(product_interactions)
        / max(len(product_interactions), 1),
        "train_distinct_products_per_user": sum(len(_seen_products(stores, u)) for u in split.train)
        / max(len(split.train), 1),
        "held_out_interactions_per_user": sum(split.held_out.values())
        / max(len(split.held_out), 1),
        "relevant_per_scored_user": sum(len(split.relevant[u]) for u in users) / n_users,
    }
    hybrid = {key: value / n_users for key, value in sorted(hybrid_stats.items())}
    return QualityReport(
        k=p.k,
        scores=scores,
        users_scored=len(users),
        data=data,
        hybrid=hybrid,
        rankings=rankings,
        relevant={u: split.relevant[u] for u in users},
    )
