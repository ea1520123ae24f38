"""The engagement read model: scores and windowed interaction counts of products and campaigns.

The aggregator writes it (``services/aggregator``); recsys-api reads it to rank candidates. The
schema is the numbered SQL files of ``sql/engagement`` (:data:`ENGAGEMENT_MIGRATIONS`).

A score is stored as of the end of the last window folded into it. Scores of different entities
have different ``as_of``, so a reader decays each to the same instant before comparing them:
``score * 0.5 ** ((now - as_of) / half_life_s)``, as :func:`top_entities` does. Decay is
multiplicative, so ranking at ``now`` by the decayed score is exact whatever ``now`` is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from polystream_common.migrations import Migrations

ENGAGEMENT_MIGRATIONS = Migrations("polystream_readmodels", "sql/engagement", lock_id=0xE46A6E)
"""The tables ``engagement_windows`` and ``engagement_scores``."""

EntityType = Literal["product", "campaign"]

TOP_ENTITIES = """
SELECT entity_type, entity_id,
       score * power(0.5, greatest(extract(epoch FROM $2::timestamptz - as_of), 0) / half_life_s)
           AS score,
       as_of, views, clicks, add_to_carts, purchases, campaign_views, campaign_clicks
FROM engagement_scores
WHERE entity_type = $1 AND ($4::text[] IS NULL OR entity_id = ANY($4::text[]))
ORDER BY 3 DESC, entity_id
LIMIT $3
"""

WINDOW_COUNTS = """
SELECT window_start, window_end, event_type, count FROM engagement_windows
WHERE entity_type = $1 AND entity_id = $2 AND window_start >= $3 AND window_start < $4
ORDER BY window_start, event_type
"""


@dataclass(frozen=True, slots=True)
class EngagementScore:
    """An entity's score decayed to the instant asked for, with its interaction totals."""

    entity_type: str
    entity_id: str
    score: float
    as_of: datetime
    views: int
    clicks: int
    add_to_carts: int
    purchases: int
    campaign_views: int
    campaign_clicks: int


@dataclass(frozen=True, slots=True)
class WindowCount:
    """Interactions of one type with one entity in one closed window [start, end)."""

    window_start: datetime
    window_end: datetime
    event_type: str
    count: int


async def top_entities(
    db: asyncpg.Connection | asyncpg.Pool,
    entity_type: EntityType,
    now: datetime,
    limit: int = 10,
    among: list[str] | None = None,
) -> list[EngagementScore]:
    """The ``limit`` entities of a type with the highest score decayed to ``now`` (best first),
    optionally only ``among`` the given ids (the ranking step's candidates)."""
    rows = await db.fetch(TOP_ENTITIES, entity_type, now, limit, among)
    return [EngagementScore(**dict(r)) for r in rows]


async def window_counts(
    db: asyncpg.Connection | asyncpg.Pool,
    entity_type: EntityType,
    entity_id: str,
    since: datetime,
    until: datetime,
) -> list[WindowCount]:
    """One entity's counts per closed window starting in [since, until), by event type."""
    rows = await db.fetch(WINDOW_COUNTS, entity_type, entity_id, since, until)
    return [WindowCount(**dict(r)) for r in rows]
