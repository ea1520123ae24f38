"""MilvusVectorStore against the local stack's Milvus 2.3 server: the contract every
VectorStore adapter meets, in a collection of each test's own, dropped after."""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from polystream_vectors.milvus import MilvusVectorStore
from polystream_vectors.settings import MilvusSettings


def _load_contract() -> ModuleType:
    path = Path(__file__).with_name("vector_store_contract.py")
    spec = importlib.util.spec_from_file_location("vector_store_contract", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


contract = _load_contract()


@pytest.fixture
async def store(stack: dict[str, str]) -> AsyncIterator[MilvusVectorStore]:
    settings = MilvusSettings(uri=f"http://127.0.0.1:{stack['MILVUS_PORT']}")
    async with MilvusVectorStore(settings) as store:
        yield store


@pytest.fixture
async def collection(store: MilvusVectorStore) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    await store.client.drop_collection(name)


class TestMilvusVectorStore(contract.VectorStoreContract):  # type: ignore[name-defined,misc]
    pass


async def test_a_bounded_search_store_finds_what_a_strong_one_wrote(
    stack: dict[str, str], store: MilvusVectorStore, collection: str
) -> None:
    """The read path's setting: searches and retrieves at Bounded consistency (no wait for the
    time tick) find the points once the bounded staleness has passed."""
    points = contract.products()
    await store.ensure_collection(contract.spec(collection))
    await store.upsert(collection, points)
    settings = MilvusSettings(
        uri=f"http://127.0.0.1:{stack['MILVUS_PORT']}", read_consistency_level="Bounded"
    )
    async with MilvusVectorStore(settings) as reader:
        await reader.ensure_collection(contract.spec(collection))
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            hits = await reader.search(collection, points[0].vector, limit=1)
            if hits and hits[0].id == points[0].id:
                break
            assert asyncio.get_running_loop().time() < deadline, "never visible at Bounded"
            await asyncio.sleep(0.5)
        wanted = {p.id for p in points}
        while set(await reader.retrieve(collection, list(wanted))) != wanted:
            assert asyncio.get_running_loop().time() < deadline, "retrieve never saw them all"
            await asyncio.sleep(0.5)


def test_an_unknown_consistency_level_is_refused() -> None:
    with pytest.raises(ValueError, match="read_consistency_level"):
        MilvusSettings(read_consistency_level="Sometimes")  # type: ignore[arg-type]
