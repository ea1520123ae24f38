"""QdrantVectorStore against qdrant-client's local mode: the same client API as a Qdrant server,
in-process (no Qdrant server is reachable from the local stack; see deploy/local/README.md)."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from polystream_vectors.qdrant import QdrantVectorStore
from polystream_vectors.settings import QdrantSettings


def _load_contract() -> ModuleType:
    path = Path(__file__).with_name("vector_store_contract.py")
    spec = importlib.util.spec_from_file_location("vector_store_contract", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


contract = _load_contract()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[QdrantVectorStore]:
    async with QdrantVectorStore(QdrantSettings(path=tmp_path / "qdrant")) as store:
        yield store


@pytest.fixture
def collection() -> str:
    return "products_test"  # each test has its own local-mode directory


class TestQdrantVectorStore(contract.VectorStoreContract):  # type: ignore[name-defined,misc]
    pass
