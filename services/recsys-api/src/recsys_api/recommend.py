"""The hybrid recommender: vector step -> graph step -> rank step.

1. **Vector step.** The user's profile vector (the embedder's decayed, weighted mean of what they
   interacted with and chatted about) finds the ``similar_users`` nearest profiles. A user with no
   profile yet but a chat message is embedded from their latest message instead.
2. **Graph step.** What those neighbours interacted with, from the Neo4j graph
   (``(:User)-[:INTERACTED]->(:Product|:Campaign)``), minus everything the user has already.
   A candidate's *affinity* is the sum over the neighbours that led to it of
   ``similarity * log1p(their interactions with it)``: close neighbours and repeated interest
   count more, and one heavy user cannot outvote many.
3. **Rank step.** ``score = w * affinity / max_affinity + (1 - w) * engagement / max_engagement``
   over the candidates, with engagement the aggregator's decayed score in PostgreSQL and
   ``w = similarity_weight``. Ties go to the smaller id, so a ranking is deterministic.

Fallbacks, each marked in the response (``strategy``, and every item's ``reason``):
- a known user with no vector, no neighbours or no new candidates gets the most popular items
  they have not interacted with (``popular``), and a short hybrid list is topped up from them;
- an unknown user (no profile, no chat and no node in the graph) raises :class:`UnknownUser`,
  which the route answers with 404.

The stores are ports (:class:`GraphReader`, :class:`EngagementReader`, :class:`ChatReader`), so
the ranking is tested and its quality measured (bench/recsys_quality.py) over in-memory
adapters, and the adapters over the real servers.
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

from polystream_embeddings.encoder import Encoder
from polystream_readmodels.graph import TargetKind, UserTarget
from polystream_vectors.semantic import MAX_LIMIT, UnknownUser, UserHit, similar_users
from polystream_vectors.store import VectorStore

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
Reason = Literal["similar_users", "popular"]
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
    via: tuple[Via, ...] = ()


@dataclass(frozen=True, slots=True)
class Recommendations:
    user_id: str
    strategy: Strategy
    source: Literal["profile", "last_chat", "none"]
    items: tuple[Recommendation, ...]
    similar_users: tuple[UserHit, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class RecommendParameters:
    similar_users: int = 20
    min_similarity: float = 0.0
    similarity_weight: float = 0.7
    targets_per_user: int = 50


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
        encoder: Encoder | None = None,
        chat: ChatReader | None = None,
        parameters: RecommendParameters | None = None,
        clock: Callable[[], datetime],
    ) -> None:
        self._store, self._profiles = store, user_profiles
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
        neighbours, source = await _timed("vector", self._neighbours(user_id))
        own, found = await _timed("graph", self._candidates(user_id, neighbours, kinds))
        if source == "none" and not own and not await self._graph.user_exists(user_id):
            raise UnknownUser(user_id)
        seen = {(t.kind, t.id) for t in own}
        items = await _timed("rank", self._rank(found, k, now))
        strategy: Strategy = "hybrid" if items else "popular"
        if len(items) < k:
            chosen = {(i.kind, i.id) for i in items}
            popular = await _timed("rank", self._popular(kinds, seen | chosen, k - len(items), now))
            items.extend(popular)
        return Recommendations(user_id, strategy, source, tuple(items), tuple(neighbours))

    async def _neighbours(
        self, user_id: str
    ) -> tuple[list[UserHit], Literal["profile", "last_chat", "none"]]:
        p = self.parameters
        try:
            hits = await similar_users(
                self._store, user_id, limit=p.similar_users, collection=self._profiles
            )
            source: Literal["profile", "last_chat", "none"] = "profile"
        except UnknownUser:
            text = await self._chat.last_message(user_id) if self._chat else None
            if text is None or self._encoder is None:
                return [], "none"
            encoder = self._encoder
            [vector] = await asyncio.to_thread(encoder.encode, [text])
            found = await self._store.search(self._profiles, vector, limit=p.similar_users + 1)
            hits = [
                UserHit(user_id=str(hit.payload["user_id"]), score=hit.score)
                for hit in found
                if hit.payload.get("user_id") != user_id
            ][: p.similar_users]
            source = "last_chat"
        return [hit for hit in hits if hit.score >= p.min_similarity], source

    async def _candidates(
        self, user_id: str, neighbours: Sequence[UserHit], kinds: Sequence[TargetKind]
    ) -> tuple[list[UserTarget], dict[tuple[TargetKind, str], list[Via]]]:
        """The user's own targets, and the neighbours' targets the user has not touched, each
        with the neighbours that lead to it."""
        rows = await self._graph.targets_of_users(
            [user_id, *(n.user_id for n in neighbours)], self.parameters.targets_per_user
        )
        own = [row for row in rows if row.user_id == user_id]
        seen = {(row.kind, row.id) for row in own}
        similarity = {n.user_id: n.score for n in neighbours}
        found: dict[tuple[TargetKind, str], list[Via]] = {}
        for row in rows:
            key = (row.kind, row.id)
            if row.user_id == user_id or key in seen or row.kind not in kinds:
                continue
            found.setdefault(key, []).append(
                Via(row.user_id, similarity[row.user_id], row.interactions)
            )
        return own, found

    async def _rank(
        self, found: dict[tuple[TargetKind, str], list[Via]], k: int, now: datetime
    ) -> list[Recommendation]:
        if not found:
            return []
        engagement: dict[tuple[TargetKind, str], float] = {}
        for kind in ("product", "campaign"):
            ids = [id_ for kind_, id_ in found if kind_ == kind]
            if ids:
                scores = await self._engagement.scores(kind, ids, now)
                engagement.update({(kind, id_): score for id_, score in scores.items()})
        affinity = {
            key: sum(max(v.similarity, 0.0) * math.log1p(v.interactions) for v in via)
            for key, via in found.items()
        }
        max_affinity = max(affinity.values()) or 1.0
        max_engagement = max(engagement.values(), default=0.0) or 1.0
        w = self.parameters.similarity_weight

        def score(key: tuple[TargetKind, str]) -> float:
            return (
                w * affinity[key] / max_affinity
                + (1 - w) * engagement.get(key, 0.0) / max_engagement
            )

        ranked = sorted(found, key=lambda key: (-score(key), key[0], key[1]))[:k]
        return [
            Recommendation(
                kind=kind,
                id=id_,
                score=round(score((kind, id_)), 6),
                reason="similar_users",
                engagement=engagement.get((kind, id_), 0.0),
                affinity=affinity[(kind, id_)],
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
