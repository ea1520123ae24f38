"""The multi-hop queries recsys-api reads the graph with (polystream_readmodels.graph), on a
known graph written through graph-writer's sinks into the local stack's Neo4j: exact rankings of
similar users, of the campaigns they interacted with, and of what a set of users touched; and
the same through ``python -m graph_writer``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from graph_writer.main import main
from polystream_readmodels import graph as queries
from polystream_readmodels.graph import CampaignOfSimilarUsers, SimilarUser, TargetInteractions

from .graph_fixtures import Graph, event, open_graph, product

pytestmark = pytest.mark.integration

# user -> what they did: (event type, target) pairs; a target "p*" is a product, "c*" a campaign.
KNOWN: dict[str, list[tuple[str, str]]] = {
    "A": [("view", "p1"), ("view", "p2"), ("view", "p3"), ("campaign_view", "c1")],
    "B": [
        ("view", "p1"),
        ("view", "p2"),
        ("view", "p3"),
        ("campaign_view", "c2"),
        ("campaign_click", "c2"),
    ],
    "C": [
        ("view", "p1"),
        ("view", "p1"),
        ("view", "p1"),
        ("view", "p2"),
        ("campaign_view", "c2"),
        ("campaign_view", "c3"),
    ],
    "D": [("view", "p1"), ("view", "p2")] + [("campaign_view", "c3")] * 3,
    "E": [("view", "p9"), ("campaign_view", "c4")],
    "F": [("campaign_view", "c1"), ("campaign_view", "c5")],
}


@pytest.fixture
async def known(stack: dict[str, str]) -> AsyncIterator[Graph]:
    async with open_graph(stack) as graph:
        records, offset = [], 0
        for user, actions in KNOWN.items():
            for kind, target in actions:
                is_campaign = target.startswith("c")
                records.append(
                    event(
                        offset,
                        user,
                        kind,
                        None if is_campaign else target,
                        target if is_campaign else None,
                        session=f"s-{user}-{offset}",
                    )
                )
                offset += 1
        await graph.interactions.write(records)
        await graph.products.write([product(0, "p1", "shoes"), product(1, "p2", "kitchen")])
        yield graph


async def test_similar_users_rank_by_shared_targets_then_interactions(known: Graph) -> None:
    similar = await queries.similar_users(known.driver, "A", label_prefix=known.labels.prefix)
    assert similar == [
        SimilarUser("B", 3, 3),
        SimilarUser("C", 2, 4),  # three views of p1 and one of p2
        SimilarUser("D", 2, 2),
        SimilarUser("F", 1, 1),  # shares only campaign c1
    ]  # E shares nothing; A is not its own neighbour
    top = await queries.similar_users(known.driver, "A", label_prefix=known.labels.prefix, limit=2)
    assert [s.user_id for s in top] == ["B", "C"]
    assert (
        await queries.similar_users(known.driver, "nobody", label_prefix=known.labels.prefix) == []
    )


async def test_campaigns_of_similar_users_rank_by_users_then_interactions(known: Graph) -> None:
    prefix = known.labels.prefix
    assert await queries.campaigns_of_similar_users(known.driver, "A", label_prefix=prefix) == [
        CampaignOfSimilarUsers("c3", 2, 4, ("C", "D")),
        CampaignOfSimilarUsers("c2", 2, 3, ("B", "C")),
        CampaignOfSimilarUsers("c1", 1, 1, ("F",)),
        CampaignOfSimilarUsers("c5", 1, 1, ("F",)),
    ]
    unseen = await queries.campaigns_of_similar_users(
        known.driver, "A", label_prefix=prefix, exclude_seen=True
    )
    assert [c.campaign_id for c in unseen] == ["c3", "c2", "c5"]
    # Similar users from elsewhere (recsys-api's vector step), the user itself ignored.
    given = await queries.campaigns_of_similar_users(
        known.driver, "A", ["E", "D", "A"], label_prefix=prefix
    )
    assert given == [
        CampaignOfSimilarUsers("c3", 1, 3, ("D",)),
        CampaignOfSimilarUsers("c4", 1, 1, ("E",)),
    ]
    assert (
        await queries.campaigns_of_similar_users(known.driver, "A", [], label_prefix=prefix) == []
    )


async def test_interactions_of_users_rank_by_users_then_counts(known: Graph) -> None:
    prefix = known.labels.prefix
    found = await queries.interactions_of_users(known.driver, ["B", "C"], label_prefix=prefix)
    assert found == [
        TargetInteractions("product", "p1", "shoes", 2, 4, {"view": 4}),
        TargetInteractions("campaign", "c2", None, 2, 3, {"campaign_click": 1, "campaign_view": 2}),
        TargetInteractions("product", "p2", "kitchen", 2, 2, {"view": 2}),
        TargetInteractions("campaign", "c3", None, 1, 1, {"campaign_view": 1}),
        TargetInteractions("product", "p3", None, 1, 1, {"view": 1}),
    ]
    products = await queries.interactions_of_users(
        known.driver, ["B", "C"], label_prefix=prefix, kind="product", limit=2
    )
    assert [(t.id, t.users, t.interactions) for t in products] == [("p1", 2, 4), ("p2", 2, 2)]
    assert await queries.interactions_of_users(known.driver, [], label_prefix=prefix) == []
    with pytest.raises(ValueError):
        await queries.interactions_of_users(known.driver, ["B"], label_prefix=prefix, limit=0)


def test_the_cli_prints_the_same_rankings(
    known: Graph,
    stack: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GRAPH_WRITER_LABEL_PREFIX", known.labels.prefix)
    monkeypatch.setenv("GRAPH_WRITER_NEO4J__URI", f"bolt://127.0.0.1:{stack['NEO4J_BOLT_PORT']}")
    with pytest.raises(SystemExit) as done:
        main(["campaigns-of-similar-users", "A", "--limit", "2"])
    assert done.value.code == 0
    printed = json.loads(capsys.readouterr().out)
    assert [(c["campaign_id"], c["users"], c["interactions"]) for c in printed] == [
        ("c3", 2, 4),
        ("c2", 2, 3),
    ]
    with pytest.raises(SystemExit):
        main(["interactions", "B", "C", "--limit", "1"])
    assert [t["id"] for t in json.loads(capsys.readouterr().out)] == ["p1"]
