"""graph-writer end to end, as a process, against the real Kafka and Neo4j: the catalog and a
known stream of user events go through Kafka into the graph; graph-writer is SIGKILLed mid-run and
restarted; every interaction count and campaign attribution equals a recomputation from the
topic's records read back from Kafka (a redelivered record counted twice would break one), every
user whose interactions changed gets a cache invalidation, and catalog tombstones DETACH DELETE
their products.

Runs in a namespace of its own (topics, group, Neo4j label prefix): see conftest.py."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from neo4j import Driver, GraphDatabase

from polystream_common.topics import CACHE_INVALIDATIONS, PRODUCTS, USER_EVENTS
from polystream_readmodels.graph import GraphLabels

from .conftest import (
    COMMITTED_TIMEOUT_S,
    E2ENamespace,
    delete_products,
    group_lag,
    read_all,
    run_producer,
    wait_until,
)

pytestmark = pytest.mark.e2e

MODULE = "graph_writer"
CATALOG = 300  # the generator's catalog: prod-00000 .. prod-00299
EVENTS = 4_000
BATCH = 100
CAMPAIGN_TYPES = {"campaign_view", "campaign_click"}


def expected_graph(
    messages: list[Any],
) -> tuple[Counter[tuple[str, str, str]], Counter[tuple[str, str]]]:
    """Interaction counts per (user, target, type) and attributions per (campaign, product),
    recomputed from the topic's records: a product event is attributed to its campaign when the
    user's latest click on that campaign, earlier in the partition, was in the same session."""
    interactions: Counter[tuple[str, str, str]] = Counter()
    promotes: Counter[tuple[str, str]] = Counter()
    last_click: dict[tuple[str, str], str] = {}
    for msg in sorted(messages, key=lambda m: (m.partition(), m.offset())):
        e = USER_EVENTS.decode(msg.value())
        if e.event_type in CAMPAIGN_TYPES:
            if e.campaign_id:
                interactions[(e.user_id, e.campaign_id, e.event_type)] += 1
                if e.event_type == "campaign_click":
                    last_click[(e.user_id, e.campaign_id)] = e.session_id
            continue
        if not e.product_id:
            continue
        interactions[(e.user_id, e.product_id, e.event_type)] += 1
        if e.campaign_id and last_click.get((e.user_id, e.campaign_id)) == e.session_id:
            promotes[(e.campaign_id, e.product_id)] += 1
    return interactions, promotes


def rows(driver: Driver, query: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(query, params)
    return [r.data() for r in records]


def stored_graph(
    driver: Driver, g: GraphLabels
) -> tuple[Counter[tuple[str, str, str]], Counter[tuple[str, str]]]:
    interactions = rows(
        driver,
        f"MATCH (u:`{g.user}`)-[r:INTERACTED]->(t) "
        "RETURN u.id AS user, t.id AS target, r.type AS type, r.count AS count",
    )
    promotes = rows(
        driver,
        f"MATCH (c:`{g.campaign}`)-[r:PROMOTES]->(p:`{g.product}`) "
        "RETURN c.id AS campaign, p.id AS product, r.count AS count",
    )
    return (
        Counter({(r["user"], r["target"], r["type"]): r["count"] for r in interactions}),
        Counter({(r["campaign"], r["product"]): r["count"] for r in promotes}),
    )


def watermarks(driver: Driver, g: GraphLabels) -> dict[int, int]:
    marks = rows(driver, f"MATCH (w:`{g.watermark}`) RETURN w.partition AS p, w.offset AS o")
    return {r["p"]: r["o"] for r in marks}


def committed(ns: E2ENamespace, topic: str, partitions: int) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": ns.bootstrap, "group.id": ns.group(MODULE)})
    try:
        offsets = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], COMMITTED_TIMEOUT_S
        )
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in offsets}


def rewind_when_empty(ns: E2ENamespace, topic: str, to: dict[int, int]) -> None:
    """Once the killed member has left the group (its session timed out), set the group's
    committed offsets of ``topic`` back to ``to``: the checkpoint of what it wrote is lost, as
    when a crash comes between a batch's graph transaction and its checkpoint."""
    admin = AdminClient({"bootstrap.servers": ns.bootstrap})
    group = ns.group(MODULE)

    def empty() -> bool:
        described = admin.describe_consumer_groups([group])[group].result()
        return bool(described.state == ConsumerGroupState.EMPTY)

    wait_until(empty, 90, "the killed member to leave the group")
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, p, offset) for p, offset in to.items()]
    )
    for future in admin.alter_consumer_group_offsets([request]).values():
        future.result()


def count(driver: Driver, label: str) -> int:
    return int(rows(driver, f"MATCH (n:`{label}`) RETURN count(n) AS n")[0]["n"])


def test_sigkill_and_restart_leave_exact_counts_invalidations_and_deletes(
    tmp_path: Path, services: Any, namespace: E2ENamespace, kafka_bootstrap: str
) -> None:
    ns = namespace
    g = GraphLabels(ns.label_prefix)
    env = ns.env(MODULE, CONSUMER__BATCH_SIZE=str(BATCH))
    events_topic = ns.stream(USER_EVENTS).topic
    auth = (ns.stack["NEO4J_USER"], ns.stack["NEO4J_PASSWORD"])
    driver = GraphDatabase.driver(ns.neo4j_uri, auth=auth)

    # 1. The catalog, then graph-writer: product nodes with their categories.
    report = run_producer(
        ["load", "--count", str(CATALOG), "--mix", "products=1", "--seed", "7", "--quiet"],
        tmp_path / "catalog.json",
        ns.env("producer"),
    )
    assert int(report["acked"]) == CATALOG
    first = services(MODULE, env)
    wait_until(lambda: count(driver, g.product) == CATALOG, 120, "the catalog", service=first)

    # 2. A known stream of user events; graph-writer is killed part-way through.
    report = run_producer(
        ["load", "--count", str(EVENTS), "--mix", "user-events=1", "--seed", "8", "--quiet"],
        tmp_path / "events.json",
        ns.env("producer"),
    )
    assert int(report["acked"]) == EVENTS and report["errors"] == 0
    wait_until(
        lambda: sum(o + 1 for o in watermarks(driver, g).values()) >= 4 * BATCH,
        120,
        "some batches in the graph",
        service=first,
        every_s=0.05,
    )
    first.kill()
    applied = watermarks(driver, g)
    assert sum(o + 1 for o in applied.values()) < EVENTS, "killed too late to prove anything"
    # Lose the checkpoint of half of what each partition applied: the restart gets those records
    # again (as after a crash between a batch's transaction and its checkpoint) and must skip them.
    checkpointed = committed(ns, events_topic, USER_EVENTS.partitions)
    rewound = {p: min(max(checkpointed[p], 0), (o + 1) // 2) for p, o in applied.items()}
    rewind_when_empty(ns, events_topic, rewound)
    redelivered = sum(o + 1 - rewound[p] for p, o in applied.items())
    assert redelivered > 0

    second = services(MODULE, env)
    wait_until(
        lambda: all(
            group_lag(ns.bootstrap, ns.group(MODULE), ns.stream(s).topic) == 0
            for s in (PRODUCTS, USER_EVENTS)
        ),
        300,
        "lag 0 on both inputs",
        service=second,
    )
    skipped = [
        int(line.rsplit("skipped=", 1)[1])
        for line in second.log_path.read_text().splitlines()
        if "redelivered records skipped" in line
    ]
    assert sum(skipped) == redelivered

    # 3. Exact: the graph equals the recomputation from what Kafka holds.
    messages = read_all(kafka_bootstrap, events_topic, EVENTS)
    assert len(messages) == EVENTS
    interactions, promotes = expected_graph(messages)
    assert promotes, "the generator's campaign clicks should attribute some products"
    stored_interactions, stored_promotes = stored_graph(driver, g)
    assert stored_interactions == interactions
    assert stored_promotes == promotes
    users = {user for user, _, _ in interactions}
    assert count(driver, g.user) == len(users)
    assert count(driver, g.product) == CATALOG  # events name only catalog products
    uncategorised = rows(
        driver, f"MATCH (p:`{g.product}`) WHERE p.category IS NULL RETURN count(p) AS n"
    )
    assert uncategorised[0]["n"] == 0
    assert watermarks(driver, g) == {
        m.partition(): max(x.offset() for x in messages if x.partition() == m.partition())
        for m in messages
    }

    # 4. A cache invalidation for every user whose interactions changed, and for no one else.
    invalidations_topic = ns.stream(CACHE_INVALIDATIONS).topic
    published = [
        CACHE_INVALIDATIONS.decode(m.value())
        for m in read_all(kafka_bootstrap, invalidations_topic, len(users))
    ]
    assert {i.user_id for i in published} == users
    assert {i.reason for i in published} == {"interactions_changed"}

    # 5. Tombstones DETACH DELETE the products; their users are invalidated.
    touched = Counter(target for _, target, _ in interactions if target.startswith("prod-"))
    deleted = sorted(p for p, _ in touched.most_common(3))
    assert delete_products(ns, deleted)["deleted"] == deleted
    wait_until(
        lambda: count(driver, g.product) == CATALOG - len(deleted),
        60,
        "the deleted products gone",
        service=second,
    )
    left = rows(
        driver,
        f"MATCH (n)-[r]->(p:`{g.product}`) WHERE p.id IN $ids RETURN count(r) AS n",
        ids=deleted,
    )
    assert left[0]["n"] == 0
    after_delete, after_promotes = stored_graph(driver, g)
    assert after_delete == Counter({k: n for k, n in interactions.items() if k[1] not in deleted})
    assert after_promotes == Counter({k: n for k, n in promotes.items() if k[1] not in deleted})
    deleted_users = {u for u, target, _ in interactions if target in deleted}

    def product_deleted() -> set[str]:
        records = read_all(kafka_bootstrap, invalidations_topic, 0, timeout_s=5)
        return {
            i.user_id
            for i in (CACHE_INVALIDATIONS.decode(m.value()) for m in records)
            if i.reason == "product_deleted"
        }

    wait_until(lambda: product_deleted() == deleted_users, 60, "product_deleted invalidations")

    for stream in (PRODUCTS, USER_EVENTS):
        assert read_all(kafka_bootstrap, ns.stream(stream).dlq_topic, 0, timeout_s=5) == []
    assert second.terminate() == 0
    driver.close()
