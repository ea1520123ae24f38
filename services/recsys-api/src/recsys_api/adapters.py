"""The recommender's ports (:mod:`recsys_api.recommend`) over the real stores: Neo4j for the
graph, PostgreSQL for engagement, MongoDB for the chat log. Each is a thin call into the shared
read models (:mod:`polystream_readmodels`), which own the queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from neo4j import AsyncDriver
from pymongo.asynchronous.database import AsyncDatabase

from polystream_readmodels import engagement, graph
from polystream_readmodels.collections import CHAT_MESSAGES_COLLECTION
from polystream_readmodels.graph import TargetKind, UserTarget


class Neo4jGraph:
    def __init__(self, driver: AsyncDriver, label_prefix: str = "") -> None:
        self.driver, self._prefix = driver, label_prefix

    async def user_exists(self, user_id: str) -> bool:
        return await graph.user_exists(self.driver, user_id, label_prefix=self._prefix)

    async def targets_of_users(self, user_ids: Sequence[str], per_user: int) -> list[UserTarget]:
        return await graph.targets_of_users(
            self.driver, user_ids, label_prefix=self._prefix, per_user=per_user
        )


class PostgresEngagement:
    """Engagement scores from a pool whose connections search the read model's schema."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def scores(self, kind: TargetKind, ids: Sequence[str], now: datetime) -> dict[str, float]:
        rows = await engagement.top_entities(self.pool, kind, now, limit=len(ids), among=list(ids))
        return {row.entity_id: row.score for row in rows}

    async def popular(self, kind: TargetKind, limit: int, now: datetime) -> list[tuple[str, float]]:
        rows = await engagement.top_entities(self.pool, kind, now, limit=limit)
        return [(row.entity_id, row.score) for row in rows]


class MongoChat:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db

    async def last_message(self, user_id: str) -> str | None:
        latest = await self.db[CHAT_MESSAGES_COLLECTION.name].find_one(
            {"user_id": user_id}, {"text": 1}, sort=[("event_time", -1)]
        )
        return None if latest is None else str(latest["text"])
