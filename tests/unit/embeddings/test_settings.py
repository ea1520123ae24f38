"""EmbeddingSettings: the defaults every service gets, and the nesting services rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from polystream_embeddings.settings import EmbeddingSettings


class _ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMBEDDER_", env_nested_delimiter="__")
    embedding: EmbeddingSettings = EmbeddingSettings()


def test_defaults_are_minilm_on_the_exported_folder() -> None:
    settings = EmbeddingSettings()

    assert (settings.model_name, settings.dimension) == ("all-MiniLM-L6-v2", 384)
    assert settings.model_dir == Path(".cache/models/all-MiniLM-L6-v2")
    assert settings.source_dir is None
    assert settings.backend == "auto"
    assert (settings.batch_size, settings.threads, settings.max_seq_length) == (64, 0, 256)


def test_nested_in_a_service_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMBEDDER_EMBEDDING__BACKEND", "onnx")
    monkeypatch.setenv("EMBEDDER_EMBEDDING__DIMENSION", "768")
    monkeypatch.setenv("EMBEDDER_EMBEDDING__MODEL_DIR", "/models/mpnet")
    monkeypatch.setenv("EMBEDDER_EMBEDDING__THREADS", "2")

    embedding = _ServiceSettings().embedding

    assert embedding.backend == "onnx"
    assert embedding.dimension == 768
    assert embedding.model_dir == Path("/models/mpnet")
    assert embedding.threads == 2


@pytest.mark.parametrize(
    "field",
    [{"backend": "tensorflow"}, {"dimension": 0}, {"batch_size": 0}, {"threads": -1}],
)
def test_refuses_values_that_cannot_work(field: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EmbeddingSettings.model_validate(field)
