"""The hybrid recommender: vector step -> graph step -> rank step.

1. **Vector step.** The user's vector, their profile (the embedder's decayed, weighted mean of
   what they interacted with and chatted about) or, with no profile yet, their latest chat message
   embedded, finds the ``similar_users`` nearest profiles. The same vector finds the
   ``vector_candidates`` products nearest it (the content side).
2. **Graph step.** What those neighbours interacted with, from the Neo4j graph
   (``(:User)-[:INTERACTED]->(:Product|:Campaign)``), minus everything the user has already.
   A candidate's *affinity* is the sum over the neighbours that led to it of
   ``similarity * log1p(their interactions with it)``: close neighbours and repeated interest
   count more, and one heavy user cannot outvote many.
3. **Rank step.** Each candidate's score is a weighted sum of three terms, each divided by its
   largest value among the candidates: affinity (``affinity_weight``), *match*, the cosine of
   the product's vector with the user's (``match_weight``; campaigns have none), and engagement,
   the aggregator's decayed score in PostgreSQL (``engagement_weight``); the weights of the terms
   that have values are normalised to sum 1. Ties go to the smaller id: rankings are
   deterministic.

The candidates the neighbours led to are ``reason="similar_users"`` (with ``via``, the users and
their similarity), the content side's ``"profile_match"``. Measured on the synthetic data
(bench/recsys_quality.py, README), the three terms together beat each side alone.

Fallbacks, each marked in the response (``strategy``, and every item's ``reason``):
- a known user with no vector, no neighbours or no new candidates gets the most popular items
  they have not interacted with (``popular``), and a short list is topped up from them;
- an unknown user (no profile, no chat and no node in the graph) raises :class:`UnknownUser`,
  which the route answers with 404.

The stores are ports (:class:`GraphReader`, :class:`EngagementReader`, :class:`ChatReader`, and
the :class:`~polystream_vectors.store.VectorStore`), so the ranking is tested and its quality
measured over in-memory adapters, and the adapters over the real servers.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, TypeVar

from prometheus_client import Histogram
from pydantic import BaseModel, ConfigDict, Field, model_validator

from polystream_embeddings.encoder import Encoder
from polystream_readmodels.graph import TargetKind, UserTarget
from polystream_vectors.semantic import MAX_LIMIT, UnknownUser, UserHit
from polystream_vectors.store import Hit, VectorStore, point_id

__all__ = [
    "ChatReader",
    "EngagementReader",
    "GraphReader",
    "Recommendation",
    "Recommendations",
    "Recommender",
    "UnknownUser",
    "Via",
]

T = TypeVar("T")
Strategy = Literal["hybrid", "popular"]
Reason = Literal["similar_users", "profile_match", "popular"]
Source = Literal["profile", "last_chat", "none"]
OWN_TARGETS_LIMIT = 100_000
"""A user's own targets are all read (to leave them out), up to this many."""
Step = Literal["vector", "graph", "rank"]

STEP_SECONDS = Histogram(
    "polystream_recommend_step_seconds",
    "Time of each step of a recommendation computed (cache misses only).",
    ["step"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


class GraphReader(Protocol):
    """The interaction graph, as the recommender reads it."""

    async def user_exists(self, user_id: str) -> bool: ...

    async def targets_of_users(
        self, user_ids: Sequence[str], per_user: int
    ) -> list[UserTarget]: ...


class EngagementReader(Protocol):
    """Engagement scores decayed to ``now`` (the aggregator's read model)."""

    async def scores(self, kind: TargetKind, ids: Sequence[str], now: datetime) -> dict[str, float]:
        """The score of each of ``ids`` that has one."""
        ...

    async def popular(self, kind: TargetKind, limit: int, now: datetime) -> list[tuple[str, float]]:
        """The ``limit`` best-scored ids of a kind with their scores, best first."""
        ...


class ChatReader(Protocol):
    """The raw chat log (event-consumer's MongoDB collection)."""

    async def last_message(self, user_id: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Via:
    """A similar user through whom an item was found, with their cosine similarity."""

    user_id: str
    similarity: float
    interactions: int


@dataclass(frozen=True, slots=True)
class Recommendation:
    kind: TargetKind
    id: str
    score: float
    reason: Reason
    engagement: float
    affinity: float = 0.0
    match: float = 0.0
    via: tuple[Via, ...] = ()


@dataclass(frozen=True, slots=True)
class Recommendations:
    user_id: str
    strategy: Strategy
    source: Source
    items: tuple[Recommendation, ...]
    similar_users: tuple[UserHit, ...] = field(default_factory=tuple)


class RecommendParameters(BaseModel):
    """The recommender's knobs; recsys-api's settings nest them (``RECSYS_API_RECOMMEND__*``)."""

    model_config = ConfigDict(frozen=True)

    similar_users: int = Field(
        default=20, ge=1, le=200, description="neighbours the vector step takes"
    )
    min_similarity: float = Field(
        default=0.0, ge=-1, le=1, description="neighbours below this cosine similarity are ignored"
    )
    targets_per_user: int = Field(
        default=50, ge=1, le=1000, description="targets the graph step reads per similar user"
    )
    vector_candidates: int = Field(
        default=20, ge=0, le=100, description="products nearest the user's vector, as candidates"
    )
    match_candidates: int = Field(
        default=100, ge=0, le=1000, description="graph candidates whose vectors are fetched"
    )
    affinity_weight: float = Field(default=0.4, description="weight of the neighbours' affinity")
    match_weight: float = Field(
        default=0.4, description="weight of the product's cosine with the user's vector"
    )
    engagement_weight: float = Field(default=0.2, description="weight of engagement")

    @model_validator(mode="after")
    def _weights(self) -> RecommendParameters:
        weights = (self.affinity_weight, self.match_weight, self.engagement_weight)
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"weights must be >= 0 and not all 0, got {weights}")
        return self


async def _timed(step: Step, work: Awaitable[T]) -> T:
    started = time.perf_counter()
    try:
        return await work
    finally:
        STEP_SECONDS.labels(step).observe(time.perf_counter() - started)


class Recommender:
    """Computes :class:`Recommendations`; see the module docstring for the algorithm."""

    def __init__(
        self,
        store: VectorStore,
        user_profiles: str,
        graph: GraphReader,
        engagement: EngagementReader,
        *,
        products: str | None = None,
        encoder: Encoder | None = None,
        chat: ChatReader | None = None,
        parameters: RecommendParameters | None = None,
        clock: Callable[[], datetime],
    ) -> None:
        """``products`` names the product collection of the content side (the match term and
        the vector candidates); without it the ranking is affinity and engagement only."""
        self._store, self._profiles, self._products = store, user_profiles, products
        self._graph, self._engagement = graph, engagement
        self._encoder, self._chat = encoder, chat
        self.parameters = parameters or RecommendParameters()
        self._clock = clock

    async def recommend(
        self, user_id: str, k: int = 10, kinds: Sequence[TargetKind] = ("product", "campaign")
    ) -> Recommendations:
        if not user_id:
            raise ValueError("user_id must not be empty")
        if not 1 <= k <= MAX_LIMIT:
            raise ValueError(f"k must be an integer in 1..{MAX_LIMIT}, got {k!r}")
        if not kinds:
            raise ValueError("kinds must name product, campaign or both")
        now = self._clock()
        vector, source, neighbours, nearest = await _timed(
            "vector", self._vector_step(user_id, kinds)
        )
        own, found = await _timed("graph", self._graph_step(user_id, neighbours, kinds))
        if source == "none" and not own and not await self._graph.user_exists(user_id):
            raise UnknownUser(user_id)
        seen = {(t.kind, t.id) for t in own}
        known_match: dict[tuple[TargetKind, str], float] = {}
        for product_id, cosine in nearest:
            if ("product", product_id) not in seen:
                found.setdefault(("product", product_id), [])
                known_match[("product", product_id)] = max(cosine, 0.0)
        items = await _timed("rank", self._rank(found, vector, known_match, k, now))
        strategy: Strategy = "hybrid" if items else "popular"
        if len(items) < k:
            chosen = {(i.kind, i.id) for i in items}
            popular = await _timed("rank", self._popular(kinds, seen | chosen, k - len(items), now))
            items.extend(popular)
        return Recommendations(user_id, strategy, source, tuple(items), tuple(neighbours))

    async def _user_vector(self, user_id: str) -> tuple[list[float] | None, Source]:
        """The user's profile vector, else their latest chat message embedded, else none."""
        pid = point_id(user_id)
        profile = (await self._store.retrieve(self._profiles, [pid])).get(pid)
        if profile is not None:
            return list(profile.vector), "profile"
        text = await self._chat.last_message(user_id) if self._chat else None
        if text is None or self._encoder is None:
            return None, "none"
        [vector] = await asyncio.to_thread(self._encoder.encode, [text])
        return [float(x) for x in vector], "last_chat"

    async def _vector_step(
        self, user_id: str, kinds: Sequence[TargetKind]
    ) -> tuple[list[float] | None, Source, list[UserHit], list[tuple[str, float]]]:
        """The user's vector and where it came from, the nearest users (the user left out, and
        those below ``min_similarity``) and the products nearest the vector, with their
        cosine."""
        vector, source = await self._user_vector(user_id)
        if vector is None:
            return None, source, [], []
        p = self.parameters
        searches = [self._store.search(self._profiles, vector, limit=p.similar_users + 1)]
        if self._products is not None and "product" in kinds and p.vector_candidates:
            searches.append(self._store.search(self._products, vector, limit=p.vector_candidates))
        user_hits, *more = await asyncio.gather(*searches)
        product_hits: list[Hit] = more[0] if more else []
        neighbours = [
            UserHit(user_id=str(hit.payload["user_id"]), score=hit.score)
            for hit in user_hits
            if hit.payload.get("user_id") != user_id and hit.score >= p.min_similarity
        ][: p.similar_users]
        nearest = [(str(hit.payload["product_id"]), hit.score) for hit in product_hits]
        return vector, source, neighbours, nearest

    async def _graph_step(
        self, user_id: str, neighbours: Sequence[UserHit], kinds: Sequence[TargetKind]
    ) -> tuple[list[UserTarget], dict[tuple[TargetKind, str], list[Via]]]:
        """The user's own targets (all of them), and the neighbours' targets the user has not
        touched, each with the neighbours that lead to it."""
        own, rows = await asyncio.gather(
            self._graph.targets_of_users([user_id], OWN_TARGETS_LIMIT),
            self._graph.targets_of_users(
                [n.user_id for n in neighbours], self.parameters.targets_per_user
            ),
        )
        seen = {(row.kind, row.id) for row in own}
        similarity = {n.user_id: n.score for n in neighbours}
        found: dict[tuple[TargetKind, str], list[Via]] = {}
        for row in rows:
            key = (row.kind, row.id)
            if key in seen or row.kind not in kinds or row.user_id not in similarity:
                continue
            found.setdefault(key, []).append(
                Via(row.user_id, similarity[row.user_id], row.interactions)
            )
        return own, found

    async def _match(self, vector: list[float] | None, ids: Sequence[str]) -> dict[str, float]:
        """The cosine of each product's stored vector with the user's (both unit vectors), for
        the products that have one."""
        if vector is None or self._products is None or not ids:
            return {}
        by_point = {point_id(id_): id_ for id_ in ids}
        points = await self._store.retrieve(self._products, list(by_point))
        return {
            by_point[pid]: max(sum(a * b for a, b in zip(vector, point.vector, strict=True)), 0.0)
            for pid, point in points.items()
        }

    async def _rank(
        self,
        found: dict[tuple[TargetKind, str], list[Via]],
        vector: list[float] | None,
        known_match: dict[tuple[TargetKind, str], float],
        k: int,
        now: datetime,
    ) -> list[Recommendation]:
        if not found:
            return []
        affinity = {
            key: sum(max(v.similarity, 0.0) * math.log1p(v.interactions) for v in via)
            for key, via in found.items()
        }
        # The match of the products the vector step found is their search score; of the others
        # only the best ``match_candidates`` by affinity are fetched (a bounded retrieve): the
        # rest would need a high match to rank, and such products are the vector step's.
        unknown = sorted(
            (key for key in found if key[0] == "product" and key not in known_match),
            key=lambda key: (-affinity[key], key[1]),
        )[: self.parameters.match_candidates]
        every_kind: tuple[TargetKind, ...] = ("product", "campaign")
        kinds = [kind for kind in every_kind if any(key[0] == kind for key in found)]
        fetched, *per_kind = await asyncio.gather(
            self._match(vector, [id_ for _, id_ in unknown]),
            *(
                self._engagement.scores(kind, [id_ for kind_, id_ in found if kind_ == kind], now)
                for kind in kinds
            ),
        )
        engagement: dict[tuple[TargetKind, str], float] = {
            (kind, id_): score
            for kind, scores in zip(kinds, per_kind, strict=True)
            for id_, score in scores.items()
        }
        match = {**known_match, **{("product", id_): value for id_, value in fetched.items()}}
        p = self.parameters
        # A term with no value for any candidate (no user vector, no product collection, no
        # engagement yet) drops out, and the weights of the others are normalised to sum 1.
        terms = [
            (weight, values)
            for weight, values in (
                (p.affinity_weight, affinity),
                (p.match_weight, match),
                (p.engagement_weight, engagement),
            )
            if values and weight > 0
        ]
        total = sum(weight for weight, _ in terms) or 1.0
        tops = [max(values.values()) or 1.0 for _, values in terms]

        def score(key: tuple[TargetKind, str]) -> float:
            return sum(
                weight / total * values.get(key, 0.0) / top
                for (weight, values), top in zip(terms, tops, strict=True)
            )

        ranked = sorted(found, key=lambda key: (-score(key), key[0], key[1]))[:k]
        return [
            Recommendation(
                kind=kind,
                id=id_,
                score=round(score((kind, id_)), 6),
                reason="similar_users" if found[(kind, id_)] else "profile_match",
                engagement=engagement.get((kind, id_), 0.0),
                affinity=affinity[(kind, id_)],
                match=round(match.get((kind, id_), 0.0), 6),
                via=tuple(sorted(found[(kind, id_)], key=lambda v: (-v.similarity, v.user_id))),
            )
            for kind, id_ in ranked
        ]

    async def _popular(
        self,
        kinds: Sequence[TargetKind],
        exclude: set[tuple[TargetKind, str]],
        k: int,
        now: datetime,
    ) -> list[Recommendation]:
        """The ``k`` best-scored items of ``kinds`` not in ``exclude``, best first."""
        pool: list[tuple[float, TargetKind, str]] = []
        for kind in kinds:
            top = await self._engagement.popular(kind, k + len(exclude), now)
            pool.extend((score, kind, id_) for id_, score in top if (kind, id_) not in exclude)
        pool.sort(key=lambda item: (-item[0], item[1], item[2]))
        best = max((score for score, _, _ in pool), default=0.0) or 1.0
        return [
            Recommendation(
                kind=kind, id=id_, score=round(score / best, 6), reason="popular", engagement=score
            )
            for score, kind, id_ in pool[:k]
        ]
