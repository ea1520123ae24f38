"""graph-writer's sinks against the local stack's Neo4j 5.26: constraints made at start (twice is
once), the same batch written twice (and overlapping redeliveries) gives the same counts, campaign
attributions across batches, catalog upserts and tombstones that DETACH DELETE, invalidations
published after the commit, and the error classes of an unreachable server.

Each test writes under a label prefix of its own, dropped after (see graph_fixtures.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from neo4j.exceptions import ServiceUnavailable

from graph_writer.bootstrap import bootstrap
from graph_writer.invalidations import RecordingPublisher
from graph_writer.settings import GraphWriterSettings
from polystream_common.schemas import AnyUserEvent
from polystream_common.sink import Deletion, SinkRecord
from polystream_common.topics import PRODUCTS

from .graph_fixtures import Graph, event, free_port, neo4j_settings, open_graph, product

pytestmark = pytest.mark.integration


@pytest.fixture
async def graph(stack: dict[str, str]) -> AsyncIterator[Graph]:
    async with open_graph(stack) as opened:
        yield opened


def session_events(first: int, partition: int = 0) -> list[SinkRecord[AnyUserEvent]]:
    """Two users, a campaign clicked by one of them, products viewed and bought."""
    o = first
    return [
        event(o + 0, "u1", "campaign_view", campaign="c1", session="s1", partition=partition),
        event(o + 1, "u1", "campaign_click", campaign="c1", session="s1", partition=partition),
        event(o + 2, "u1", "view", "p1", "c1", session="s1", partition=partition),
        event(o + 3, "u1", "click", "p1", "c1", session="s1", partition=partition),
        event(o + 4, "u1", "view", "p2", "c1", session="s1", partition=partition),
        event(o + 5, "u2", "campaign_view", campaign="c1", session="s2", partition=partition),
        event(o + 6, "u2", "view", "p1", "c1", session="s2", partition=partition),
        event(o + 7, "u2", "purchase", "p1", session="s3", partition=partition),
        event(o + 8, "u2", "view", session="s3", partition=partition),  # no product
    ]


async def test_constraints_are_created_at_setup_and_a_second_start_adds_none(
    graph: Graph, stack: dict[str, str]
) -> None:
    async def constraints() -> list[tuple[str, str, list[str], list[str]]]:
        rows = await graph.rows(
            "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties "
            "WHERE name STARTS WITH $prefix RETURN name, type, labelsOrTypes, properties "
            "ORDER BY name",
            prefix=graph.labels.prefix,
        )
        return [(r["name"], r["type"], r["labelsOrTypes"], r["properties"]) for r in rows]

    expected = sorted(
        (f"{label}_id", "UNIQUENESS", [label], ["id"]) for label in graph.labels.all()
    )
    assert await constraints() == expected
    # A second writer on the same prefix (a restart) runs its schema again: nothing changes.
    settings = GraphWriterSettings(
        neo4j=neo4j_settings(stack), label_prefix=graph.labels.prefix, metrics_port=0
    )
    again = bootstrap(settings, publisher=RecordingPublisher())[0].sink
    await again.setup()
    await again.close()
    assert await constraints() == expected


async def test_the_same_batch_written_twice_gives_the_same_graph(graph: Graph) -> None:
    batch = session_events(0)
    await graph.interactions.write(batch)
    first = (await graph.interactions_by_key(), await graph.promotes())
    await graph.interactions.write(batch)  # redelivered after a crash before the commit
    assert (await graph.interactions_by_key(), await graph.promotes()) == first
    assert first == (
        {
            ("u1", "c1", "campaign_view"): 1,
            ("u1", "c1", "campaign_click"): 1,
            ("u1", "p1", "view"): 1,
            ("u1", "p1", "click"): 1,
            ("u1", "p2", "view"): 1,
            ("u2", "c1", "campaign_view"): 1,
            ("u2", "p1", "view"): 1,
            ("u2", "p1", "purchase"): 1,
        },
        # u1 clicked c1 in s1 and then touched p1 twice and p2 once; u2 never clicked.
        {("c1", "p1"): 2, ("c1", "p2"): 1},
    )
    assert await graph.count(graph.labels.user) == 2
    assert await graph.count(graph.labels.product) == 2
    assert await graph.count(graph.labels.campaign) == 1
    marks = await graph.rows(
        f"MATCH (w:`{graph.labels.watermark}`) RETURN w.id AS id, w.offset AS offset"
    )
    assert marks == [{"id": "user.events/0", "offset": 8}]


async def test_overlapping_redeliveries_count_each_record_once_per_partition(
    graph: Graph,
) -> None:
    p0, p1 = session_events(0, partition=0), session_events(100, partition=1)
    await graph.interactions.write(p0[:4] + p1[:2])
    await graph.interactions.write(p0[:6] + p1[:7])  # a part of each is redelivered
    await graph.interactions.write(p0 + p1)
    await graph.interactions.write(p1[3:])  # and again, alone
    counts = await graph.interactions_by_key()
    # Both partitions hold the same story (different offsets): every count is exactly two.
    assert set(counts.values()) == {2}
    assert len(counts) == 8
    assert await graph.promotes() == {("c1", "p1"): 4, ("c1", "p2"): 2}
    times = await graph.rows(
        f"MATCH (:`{graph.labels.user}` {{id: 'u1'}})-[r:INTERACTED {{type: 'view'}}]->"
        f"(:`{graph.labels.product}` {{id: 'p1'}}) RETURN r.first_at AS first, r.last_at AS last"
    )
    assert [(t["first"].to_native(), t["last"].to_native()) for t in times] == [
        (p0[2].value.event_time, p1[2].value.event_time)
    ]


async def test_a_click_written_in_an_earlier_batch_attributes_later_products(
    graph: Graph,
) -> None:
    batch = session_events(0)
    await graph.interactions.write(batch[:2])  # the campaign view and click
    await graph.interactions.write(batch[2:])
    assert await graph.promotes() == {("c1", "p1"): 2, ("c1", "p2"): 1}
    # A new session without a click on c1: its products are not attributed to it.
    await graph.interactions.write([event(9, "u1", "view", "p3", "c1", session="s9")])
    assert ("c1", "p3") not in await graph.promotes()


async def test_invalidations_name_every_user_whose_interactions_changed_redeliveries_too(
    graph: Graph,
) -> None:
    batch = session_events(0)
    await graph.interactions.write(batch)
    assert [(i.user_id, i.reason) for i in graph.publisher.published] == [
        ("u1", "interactions_changed"),
        ("u2", "interactions_changed"),
    ]
    # The publish fails after the commit: the retried batch is skipped by the graph, but the
    # invalidations go out again (at least once).
    graph.publisher.fail_next = 1
    with pytest.raises(ConnectionError):
        await graph.interactions.write([*batch, event(9, "u3", "view", "p9")])
    assert graph.interactions.is_transient(ConnectionError())
    await graph.interactions.write([*batch, event(9, "u3", "view", "p9")])
    assert [i.user_id for i in graph.publisher.published[2:]] == ["u1", "u2", "u3"]
    assert (await graph.interactions_by_key())[("u3", "p9", "view")] == 1
    assert (await graph.interactions_by_key())[("u1", "p1", "view")] == 1


async def test_the_catalog_sets_categories_and_a_tombstone_detach_deletes_the_product(
    graph: Graph,
) -> None:
    await graph.interactions.write(session_events(0))  # p1 and p2 exist, without a category
    await graph.products.write(
        [product(0, "p1", "shoes"), product(1, "p2", "kitchen"), product(2, "p3", "garden")]
    )
    await graph.products.write([product(3, "p1", "running")])  # a newer record of p1
    rows = await graph.rows(
        f"MATCH (p:`{graph.labels.product}`) RETURN p.id AS id, p.category AS category ORDER BY id"
    )
    assert [(r["id"], r["category"]) for r in rows] == [
        ("p1", "running"),
        ("p2", "kitchen"),
        ("p3", "garden"),
    ]
    before = len(graph.publisher.published)

    await graph.products.delete([Deletion(b"p1", PRODUCTS.topic, 0, 4)])
    await graph.products.delete([Deletion(b"p1", PRODUCTS.topic, 0, 4)])  # redelivered: no-op
    assert await graph.count(graph.labels.product) == 2
    assert all(target != "p1" for _, target, _ in await graph.interactions_by_key())
    assert await graph.promotes() == {("c1", "p2"): 1}
    assert [(i.user_id, i.reason) for i in graph.publisher.published[before:]] == [
        ("u1", "product_deleted"),
        ("u2", "product_deleted"),
    ]


async def test_a_server_that_is_not_there_is_a_transient_error(stack: dict[str, str]) -> None:
    settings = GraphWriterSettings(
        neo4j=neo4j_settings(stack, port=str(free_port())),
        neo4j_timeout_s=2,
        metrics_port=0,
    )
    sink = bootstrap(settings, publisher=RecordingPublisher())[0].sink
    with pytest.raises(ServiceUnavailable) as raised:
        await sink.setup()
    assert sink.is_transient(raised.value)  # the loop retries setup and writes with backoff
