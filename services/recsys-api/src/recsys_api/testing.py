"""In-memory adapters of the recommender's ports, for unit tests and the quality benchmark
(bench/recsys_quality.py). They answer as the real adapters do (:mod:`recsys_api.adapters`):
the same orderings, ties broken by id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from polystream_readmodels.graph import TargetKind, UserTarget


class InMemoryGraph:
    """Interaction counts per user and (kind, target id)."""

    def __init__(self) -> None:
        self.counts: defaultdict[str, defaultdict[tuple[TargetKind, str], int]] = defaultdict(
            lambda: defaultdict(int)
        )
        self.categories: dict[str, str | None] = {}

    def add(
        self,
        user_id: str,
        kind: TargetKind,
        target_id: str,
        n: int = 1,
        category: str | None = None,
    ) -> None:
        self.counts[user_id][(kind, target_id)] += n
        if category is not None or target_id not in self.categories:
            self.categories[target_id] = category

    async def user_exists(self, user_id: str) -> bool:
        return user_id in self.counts

    async def targets_of_users(self, user_ids: Sequence[str], per_user: int) -> list[UserTarget]:
        rows: list[UserTarget] = []
        for user in sorted(set(user_ids)):
            targets = sorted(
                self.counts.get(user, {}).items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1])
            )[:per_user]
            rows.extend(
                UserTarget(user, kind, id_, self.categories.get(id_), n)
                for (kind, id_), n in targets
            )
        return rows


class InMemoryEngagement:
    """Scores per (kind, id), already as of any ``now``."""

    def __init__(self, scores: Iterable[tuple[TargetKind, str, float]] = ()) -> None:
        self.by_kind: defaultdict[str, dict[str, float]] = defaultdict(dict)
        for kind, id_, score in scores:
            self.by_kind[kind][id_] = score

    async def scores(self, kind: TargetKind, ids: Sequence[str], now: datetime) -> dict[str, float]:
        known = self.by_kind.get(kind, {})
        return {id_: known[id_] for id_ in ids if id_ in known}

    async def popular(self, kind: TargetKind, limit: int, now: datetime) -> list[tuple[str, float]]:
        ranked = sorted(self.by_kind.get(kind, {}).items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[:limit]


class InMemoryChat:
    def __init__(self, last: dict[str, str] | None = None) -> None:
        self.last = dict(last or {})

    async def last_message(self, user_id: str) -> str | None:
        return self.last.get(user_id)
