"""The in-memory VectorStore that unit tests use meets the same contract as the real adapters."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from polystream_vectors.testing import InMemoryVectorStore


def _load_contract() -> ModuleType:
    path = Path(__file__).parents[2] / "integration" / "vector_store_contract.py"
    spec = importlib.util.spec_from_file_location("vector_store_contract", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


contract = _load_contract()


@pytest.fixture
async def store() -> AsyncIterator[InMemoryVectorStore]:
    async with InMemoryVectorStore() as store:
        yield store


@pytest.fixture
def collection() -> str:
    return "products_test"


class TestInMemoryVectorStore(contract.VectorStoreContract):  # type: ignore[name-defined,misc]
    pass
