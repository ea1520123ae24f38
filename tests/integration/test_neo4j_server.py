"""The local stack's Neo4j 5.26 server (deploy/local/neo4j) through the neo4j driver: Bolt with
authentication, idempotent schema, and batched MERGE writes that a redelivery does not duplicate.

Every test writes under labels of its own (a uuid suffix) and deletes them after, so it never
touches what a running ``make run`` wrote."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from neo4j import AsyncDriver, AsyncGraphDatabase
from neo4j.exceptions import AuthError

ROWS = 2_000


def bolt_uri(stack: dict[str, str]) -> str:
    return f"bolt://127.0.0.1:{stack['NEO4J_BOLT_PORT']}"


@pytest.fixture
async def driver(stack: dict[str, str]) -> AsyncIterator[AsyncDriver]:
    driver = AsyncGraphDatabase.driver(
        bolt_uri(stack), auth=(stack["NEO4J_USER"], stack["NEO4J_PASSWORD"])
    )
    yield driver
    await driver.close()


@pytest.fixture
async def label(driver: AsyncDriver) -> AsyncIterator[str]:
    """A label no one else uses; its nodes and constraints are dropped after the test."""
    name = f"TestUser_{uuid.uuid4().hex[:12]}"
    yield name
    records, _, _ = await driver.execute_query(
        "SHOW CONSTRAINTS YIELD name, labelsOrTypes WHERE $label IN labelsOrTypes RETURN name",
        label=name,
    )
    for record in records:
        await driver.execute_query(f"DROP CONSTRAINT `{record['name']}` IF EXISTS")
    await driver.execute_query(f"MATCH (n:`{name}`) DETACH DELETE n")


def unique_id(label: str) -> str:
    return f"CREATE CONSTRAINT `{label}_id` IF NOT EXISTS FOR (n:`{label}`) REQUIRE n.id IS UNIQUE"


async def count(driver: AsyncDriver, label: str) -> int:
    records, _, _ = await driver.execute_query(f"MATCH (n:`{label}`) RETURN count(n) AS n")
    return int(records[0]["n"])


async def test_the_stack_credentials_log_in_and_a_wrong_password_is_refused(
    stack: dict[str, str], driver: AsyncDriver
) -> None:
    await driver.verify_connectivity()
    records, _, _ = await driver.execute_query("RETURN 1 AS one")
    assert records[0]["one"] == 1

    async with AsyncGraphDatabase.driver(
        bolt_uri(stack), auth=(stack["NEO4J_USER"], "not-the-password")
    ) as wrong:
        with pytest.raises(AuthError):
            await wrong.verify_connectivity()


async def test_a_uniqueness_constraint_created_twice_is_one_constraint(
    driver: AsyncDriver, label: str
) -> None:
    await driver.execute_query(unique_id(label))
    await driver.execute_query(unique_id(label))  # every start of a writer runs its schema again

    records, _, _ = await driver.execute_query(
        "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties "
        "WHERE $label IN labelsOrTypes RETURN name, type, properties",
        label=label,
    )
    assert [(r["name"], r["type"], r["properties"]) for r in records] == [
        (f"{label}_id", "UNIQUENESS", ["id"])
    ]


async def test_a_batch_merged_twice_leaves_each_node_once(driver: AsyncDriver, label: str) -> None:
    await driver.execute_query(unique_id(label))
    rows = [{"id": f"user-{i}", "visits": i % 7} for i in range(ROWS)]
    merge = f"UNWIND $rows AS row MERGE (n:`{label}` {{id: row.id}}) SET n.visits = row.visits"

    await driver.execute_query(merge, rows=rows)
    await driver.execute_query(merge, rows=rows)  # a redelivered batch

    assert await count(driver, label) == ROWS
    records, _, _ = await driver.execute_query(
        f"MATCH (n:`{label}` {{id: 'user-12'}}) RETURN n.visits AS visits"
    )
    assert [r["visits"] for r in records] == [12 % 7]
