"""Vector store settings: which target they choose, and when they count as local defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from polystream_vectors.settings import MilvusSettings, QdrantSettings


def test_qdrant_path_chooses_local_mode_over_the_default_url() -> None:
    settings = QdrantSettings(path=Path("/tmp/q"))
    assert settings.url is None
    assert not settings.uses_default_credentials()


def test_qdrant_needs_a_url_or_a_path() -> None:
    with pytest.raises(ValidationError, match="url"):
        QdrantSettings(url=None)


def test_qdrant_server_without_api_key_is_a_local_default() -> None:
    assert QdrantSettings().uses_default_credentials()
    assert not QdrantSettings(api_key=SecretStr("k")).uses_default_credentials()


def test_milvus_default_credentials() -> None:
    assert MilvusSettings().uses_default_credentials()
    assert MilvusSettings(token=SecretStr("root:Milvus")).uses_default_credentials()
    assert not MilvusSettings(token=SecretStr("svc:s3cret")).uses_default_credentials()
    assert "s3cret" not in repr(MilvusSettings(token=SecretStr("svc:s3cret")))
