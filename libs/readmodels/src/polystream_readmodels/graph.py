"""The interaction graph in Neo4j: its labels and constraints (graph-writer writes them) and the
multi-hop queries recsys-api reads it with.

The graph::

    (:User {id})-[:INTERACTED {type, count, first_at, last_at}]->(:Product {id, category})
    (:User {id})-[:INTERACTED {type, count, first_at, last_at}]->(:Campaign {id})
    (:Campaign {id})-[:PROMOTES {count, first_at, last_at}]->(:Product {id, category})

One ``INTERACTED`` relationship per (user, target, event type): ``count`` events of that type,
the first and last of them at ``first_at``/``last_at``. Chosen over one relationship per (user,
target) with counts per type because Neo4j properties cannot be maps: per-type counts and times
there would be property names made from event types (``view_count``, ``view_last_at``, ...), which
no index, ``MERGE`` key or ``WHERE r.type = ...`` can use. The cost is at most four relationships
per (user, product) (view, click, add_to_cart, purchase) and two per (user, campaign); a query
that wants one figure per pair sums them (``sum(r.count)``), as the ones below do.

A campaign's ``campaign_click`` relationship also keeps ``session``, the session of the user's
latest click on it (how graph-writer attributes the products of that session to the campaign).
``PROMOTES`` counts the product interactions that followed a click on the campaign in the same
session.

Every label (and constraint name) carries ``label_prefix`` (default ""): Neo4j community has one
database, so a test's or a benchmark's graph lives under labels of its own (``e2e_1a2b_User``)
beside the one a ``make run`` writes. Relationship types are not prefixed: they only ever join
nodes of one prefix.

The queries take an ``AsyncDriver`` (the neo4j package is the caller's dependency, imported here
for types only) and return frozen dataclasses, ranked deterministically (ties by id).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from neo4j import AsyncDriver

LABEL_PREFIX_PATTERN = r"^([A-Za-z][A-Za-z0-9_]{0,63})?$"
INTERACTED = "INTERACTED"
PROMOTES = "PROMOTES"
CAMPAIGN_CLICK = "campaign_click"
TargetKind = Literal["product", "campaign"]


@dataclass(frozen=True)
class GraphLabels:
    """The graph's labels under one prefix; every Cypher statement takes them from here."""

    prefix: str = ""

    def __post_init__(self) -> None:
        if not re.match(LABEL_PREFIX_PATTERN, self.prefix):
            raise ValueError(f"label prefix {self.prefix!r} must match {LABEL_PREFIX_PATTERN}")

    @property
    def user(self) -> str:
        return f"{self.prefix}User"

    @property
    def product(self) -> str:
        return f"{self.prefix}Product"

    @property
    def campaign(self) -> str:
        return f"{self.prefix}Campaign"

    @property
    def watermark(self) -> str:
        """graph-writer's per-partition offset watermarks (``{id: "topic/partition", offset}``)."""
        return f"{self.prefix}Watermark"

    def all(self) -> tuple[str, ...]:
        return (self.user, self.product, self.campaign, self.watermark)

    def constraints(self) -> list[str]:
        """``CREATE CONSTRAINT ... IF NOT EXISTS``: ``id`` unique on each label (MERGE by id then
        finds its node through the constraint's index, and two writers cannot make twins)."""
        return [
            f"CREATE CONSTRAINT `{label}_id` IF NOT EXISTS FOR (n:`{label}`) REQUIRE n.id IS UNIQUE"
            for label in self.all()
        ]

    def constraint_names(self) -> list[str]:
        return [f"{label}_id" for label in self.all()]


@dataclass(frozen=True)
class SimilarUser:
    """A user who interacted with ``overlap`` of the same products and campaigns as the one
    asked about; ``interactions`` is their event count on those shared targets."""

    user_id: str
    overlap: int
    interactions: int


@dataclass(frozen=True)
class CampaignOfSimilarUsers:
    """A campaign ``users`` of the similar users interacted with, ``interactions`` times in all."""

    campaign_id: str
    users: int
    interactions: int
    user_ids: tuple[str, ...]


@dataclass(frozen=True)
class TargetInteractions:
    """A product or campaign a set of users interacted with: how many of them, how many events
    in all, and per event type."""

    kind: TargetKind
    id: str
    category: str | None
    users: int
    interactions: int
    by_type: dict[str, int]


async def _rows(driver: AsyncDriver, query: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = await driver.execute_query(query, params, routing_="r")
    return [record.data() for record in records]


async def similar_users(
    driver: AsyncDriver, user_id: str, *, label_prefix: str = "", limit: int = 50
) -> list[SimilarUser]:
    """The users who interacted with the most of ``user_id``'s products and campaigns
    (co-interaction), best first: by the number of shared targets, then by their interaction
    count on them, then by id. The user is not their own neighbour."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    g = GraphLabels(label_prefix)
    query = f"""
        MATCH (a:`{g.user}` {{id: $user}})-[:{INTERACTED}]->(t)
        WITH DISTINCT a, t
        MATCH (t)<-[r:{INTERACTED}]-(b:`{g.user}`)
        WHERE b <> a
        WITH b, t, sum(r.count) AS on_target
        RETURN b.id AS user_id, count(t) AS overlap, sum(on_target) AS interactions
        ORDER BY overlap DESC, interactions DESC, user_id ASC
        LIMIT $limit
    """
    rows = await _rows(driver, query, user=user_id, limit=limit)
    return [SimilarUser(r["user_id"], r["overlap"], r["interactions"]) for r in rows]


async def campaigns_of_similar_users(
    driver: AsyncDriver,
    user_id: str,
    similar_user_ids: Sequence[str] | None = None,
    *,
    label_prefix: str = "",
    limit: int = 10,
    similar_limit: int = 50,
    exclude_seen: bool = False,
) -> list[CampaignOfSimilarUsers]:
    """Which campaigns did users similar to ``user_id`` interact with, best first: by how many
    of them did, then by their interaction count, then by id.

    The similar users are ``similar_user_ids`` when given (e.g. recsys-api's vector step), else
    the ``similar_limit`` best of :func:`similar_users`. ``exclude_seen`` leaves out campaigns the
    user interacted with already.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if similar_user_ids is None:
        similar = await similar_users(
            driver, user_id, label_prefix=label_prefix, limit=similar_limit
        )
        ids = [s.user_id for s in similar]
    else:
        ids = [u for u in dict.fromkeys(similar_user_ids) if u != user_id]
    if not ids:
        return []
    g = GraphLabels(label_prefix)
    seen = (
        f"AND NOT EXISTS {{ MATCH (:`{g.user}` {{id: $user}})-[:{INTERACTED}]->(c) }}"
        if exclude_seen
        else ""
    )
    query = f"""
        MATCH (b:`{g.user}`)-[r:{INTERACTED}]->(c:`{g.campaign}`)
        WHERE b.id IN $similar {seen}
        WITH c, b, sum(r.count) AS by_user
        WITH c, count(b) AS users, sum(by_user) AS interactions, collect(b.id) AS user_ids
        RETURN c.id AS campaign_id, users, interactions, user_ids
        ORDER BY users DESC, interactions DESC, campaign_id ASC
        LIMIT $limit
    """
    rows = await _rows(driver, query, user=user_id, similar=ids, limit=limit)
    return [
        CampaignOfSimilarUsers(
            r["campaign_id"], r["users"], r["interactions"], tuple(sorted(r["user_ids"]))
        )
        for r in rows
    ]


async def interactions_of_users(
    driver: AsyncDriver,
    user_ids: Sequence[str],
    *,
    label_prefix: str = "",
    limit: int = 50,
    kind: TargetKind | None = None,
) -> list[TargetInteractions]:
    """The products and campaigns (or only one ``kind``) that ``user_ids`` interacted with, best
    first: by how many of the users did, then by their interaction count, then by kind and id.
    recsys-api's graph step: the users come from its vector step."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if not user_ids:
        return []
    g = GraphLabels(label_prefix)
    targets = {"product": f":`{g.product}`", "campaign": f":`{g.campaign}`", None: ""}[kind]
    query = f"""
        MATCH (u:`{g.user}`)-[r:{INTERACTED}]->(t{targets})
        WHERE u.id IN $users
        WITH t, count(DISTINCT u) AS users, sum(r.count) AS interactions,
             collect([r.type, r.count]) AS types
        RETURN CASE WHEN t:`{g.campaign}` THEN 'campaign' ELSE 'product' END AS kind,
               t.id AS id, t.category AS category, users, interactions, types
        ORDER BY users DESC, interactions DESC, kind ASC, id ASC
        LIMIT $limit
    """
    rows = await _rows(driver, query, users=list(dict.fromkeys(user_ids)), limit=limit)
    found: list[TargetInteractions] = []
    for r in rows:
        by_type: dict[str, int] = {}
        for event_type, n in sorted(r["types"]):
            by_type[event_type] = by_type.get(event_type, 0) + int(n)
        found.append(
            TargetInteractions(
                r["kind"], r["id"], r["category"], r["users"], r["interactions"], by_type
            )
        )
    return found


@dataclass(frozen=True)
class UserTarget:
    """One user's interactions with one product or campaign: ``interactions`` events in all."""

    user_id: str
    kind: TargetKind
    id: str
    category: str | None
    interactions: int


async def targets_of_users(
    driver: AsyncDriver, user_ids: Sequence[str], *, label_prefix: str = "", per_user: int = 100
) -> list[UserTarget]:
    """Each (user, target) pair of ``user_ids`` with its interaction count (all event types
    summed): each user's ``per_user`` most interacted targets, by user, then most interactions
    first, then kind and id. recsys-api's graph step reads the similar users' targets with it,
    and a user's own to leave them out."""
    if per_user < 1:
        raise ValueError("per_user must be at least 1")
    if not user_ids:
        return []
    g = GraphLabels(label_prefix)
    query = f"""
        MATCH (u:`{g.user}`)-[r:{INTERACTED}]->(t)
        WHERE u.id IN $users
        WITH u, t, sum(r.count) AS interactions,
             CASE WHEN t:`{g.campaign}` THEN 'campaign' ELSE 'product' END AS kind
        ORDER BY interactions DESC, kind ASC, t.id ASC
        WITH u, collect({{kind: kind, id: t.id, category: t.category,
                          interactions: interactions}})[..$per_user] AS top
        UNWIND top AS row
        RETURN u.id AS user_id, row.kind AS kind, row.id AS id, row.category AS category,
               row.interactions AS interactions
        ORDER BY user_id ASC, interactions DESC, kind ASC, id ASC
    """
    rows = await _rows(driver, query, users=list(dict.fromkeys(user_ids)), per_user=per_user)
    return [
        UserTarget(r["user_id"], r["kind"], r["id"], r["category"], r["interactions"]) for r in rows
    ]


async def user_exists(driver: AsyncDriver, user_id: str, *, label_prefix: str = "") -> bool:
    """Whether graph-writer has seen the user (a ``User`` node, by its unique ``id``)."""
    g = GraphLabels(label_prefix)
    rows = await _rows(
        driver, f"MATCH (u:`{g.user}` {{id: $user}}) RETURN 1 AS found", user=user_id
    )
    return bool(rows)
