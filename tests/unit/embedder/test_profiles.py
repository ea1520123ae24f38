"""User profile vectors: the decayed mean's arithmetic, and exactly-once application over a
vector store (the in-memory fake) across redelivery, restarts and rebalances."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from embedder.profiles import (
    CHAT,
    EVENTS,
    Interaction,
    ProfileBook,
    apply,
    empty_profile,
    from_point,
    to_point,
)
from embedder.stores import VectorStores
from polystream_vectors.collections import user_profiles_collection
from polystream_vectors.store import point_id
from polystream_vectors.testing import InMemoryVectorStore

DIM = 8
HOUR = 3600.0
T0 = datetime(2026, 11, 1, tzinfo=UTC)
SPEC = user_profiles_collection(DIM)


def unit(i: int) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[i] = 1.0
    return v


def interaction(
    user: str, vector: np.ndarray, hours: float, offset: int, source: str = EVENTS, w: float = 1.0
) -> Interaction:
    return Interaction(user, vector, w, T0 + timedelta(hours=hours), source, 0, offset)


async def book_over(store: InMemoryVectorStore, cache_size: int = 100) -> ProfileBook:
    stores = VectorStores({"memory": store}, {SPEC.name: ["memory"]})
    await stores.setup([SPEC])
    return ProfileBook(stores, DIM, half_life_s=HOUR, cache_size=cache_size, collection=SPEC.name)


def test_an_interaction_one_half_life_older_counts_half() -> None:
    profile = empty_profile("u", DIM)
    profile = apply(profile, interaction("u", unit(0), 0, 0), HOUR)
    profile = apply(profile, interaction("u", unit(1), 1, 1), HOUR)
    np.testing.assert_allclose(profile.total[:2], [0.5, 1.0], rtol=1e-6)
    assert profile.weight == pytest.approx(1.5)
    assert profile.as_of == T0 + timedelta(hours=1)


def test_the_profile_does_not_depend_on_the_order_interactions_arrive_in() -> None:
    rng = random.Random(7)
    items = [
        interaction("u", unit(rng.randrange(DIM)), rng.uniform(0, 48), i, w=rng.choice([1, 2, 5]))
        for i in range(12)
    ]
    results = []
    for order in (items, list(reversed(items)), sorted(items, key=lambda x: x.at)):
        profile = empty_profile("u", DIM)
        for item in order:
            profile = apply(profile, item, HOUR * 24)
        results.append(profile)
    for other in results[1:]:
        np.testing.assert_allclose(other.vector(), results[0].vector(), atol=1e-6)
        assert other.weight == pytest.approx(results[0].weight)


def test_a_stored_point_continues_the_profile_exactly() -> None:
    profile = empty_profile("u", DIM)
    for i, hours in enumerate((0, 5, 2)):
        profile = apply(profile, interaction("u", unit(i), hours, i, CHAT, w=2), HOUR)
    back = from_point(to_point(profile))
    np.testing.assert_allclose(back.total, profile.total, rtol=1e-6)
    assert (back.weight, back.as_of, back.chat_offset, back.events_offset) == (
        pytest.approx(profile.weight),
        profile.as_of,
        2,
        -1,
    )
    assert float(np.linalg.norm(np.asarray(to_point(profile).vector))) == pytest.approx(1.0)


async def test_a_redelivered_batch_leaves_the_stored_profiles_as_they_were() -> None:
    store = InMemoryVectorStore()
    book = await book_over(store)
    batch = [
        interaction("a", unit(0), 0, 10),
        interaction("b", unit(1), 1, 11),
        interaction("a", unit(2), 2, 12, CHAT),
    ]
    assert await book.apply(batch) == 3
    first = dict(store.collections[SPEC.name])
    assert await book.apply(batch) == 0  # the same process, cache warm
    restarted = await book_over(store)  # a crash: memory is gone, the store is not
    assert await restarted.apply(batch) == 0
    assert store.collections[SPEC.name] == first
    assert len(first) == 2


async def test_after_a_restart_new_interactions_continue_from_the_stored_state() -> None:
    items = [interaction("a", unit(i % DIM), i, i, CHAT if i % 3 else EVENTS) for i in range(9)]
    whole = InMemoryVectorStore()
    await (await book_over(whole)).apply(items)

    split = InMemoryVectorStore()
    await (await book_over(split)).apply(items[:4])
    # A redelivery overlapping what was applied, after a restart and with no cache at all.
    assert await (await book_over(split, cache_size=0)).apply(items[2:]) == 5

    a = split.collections[SPEC.name][point_id("a")]
    b = whole.collections[SPEC.name][point_id("a")]
    np.testing.assert_allclose(a.vector, b.vector, atol=1e-6)
    assert a.payload["weight"] == pytest.approx(b.payload["weight"])
    assert (a.payload["events_offset"], a.payload["chat_offset"]) == (6, 8)


async def test_revoked_partitions_leave_the_cache_and_the_cache_is_bounded() -> None:
    store = InMemoryVectorStore()
    book = await book_over(store, cache_size=3)
    items = [
        Interaction(f"user-{i}", unit(0), 1.0, T0, EVENTS, partition=i % 2, offset=i)
        for i in range(4)
    ]
    await book.apply(items)
    assert book.cached == 3  # least recently used out
    book.forget_partitions([1])
    assert book.cached == 1
    # Another instance took partition 1 and moved user-1 on: this one reads it back.
    other = await book_over(store)
    await other.apply([Interaction("user-1", unit(3), 1.0, T0, EVENTS, 1, 99)])
    await book.apply([Interaction("user-1", unit(3), 1.0, T0, EVENTS, 1, 99)])
    stored = from_point(store.collections[SPEC.name][point_id("user-1")])
    assert stored.weight == pytest.approx(2.0)  # applied once, not twice


@pytest.mark.parametrize("source", [EVENTS, CHAT])
def test_watermarks_are_per_input_topic(source: str) -> None:
    other = CHAT if source == EVENTS else EVENTS
    profile = apply(empty_profile("u", DIM), interaction("u", unit(0), 0, 50, source), HOUR)
    assert profile.includes(interaction("u", unit(0), 0, 50, source))
    assert not profile.includes(interaction("u", unit(0), 0, 3, other))
    marks = (profile.events_offset, profile.chat_offset)
    assert marks == ((50, -1) if source == EVENTS else (-1, 50))
