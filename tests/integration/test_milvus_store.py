"""MilvusVectorStore against the local stack's Milvus 2.3 server: the contract every
VectorStore adapter meets, in a collection of each test's own, dropped after."""

from __future__ import annotations

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
