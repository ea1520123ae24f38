"""load_encoder: which backend it picks, what it says when the model is missing, and that it
refuses a model whose vectors are not ``settings.dimension`` wide. On the toy model folder
(conftest.py): no real model is needed."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import pytest

from polystream_embeddings import encoder as encoder_module
from polystream_embeddings.encoder import (
    ModelNotInstalledError,
    choose_backend,
    cuda_available,
    load_encoder,
)
from polystream_embeddings.settings import EmbeddingSettings


def _no_gpu() -> bool:
    return False


def _gpu() -> bool:
    return True


def _must_not_ask() -> bool:
    raise AssertionError("an explicit backend must not probe for a GPU")


@pytest.mark.parametrize(
    ("backend", "cuda", "chosen"),
    [
        ("auto", _no_gpu, "onnx"),
        ("auto", _gpu, "torch"),
        ("onnx", _must_not_ask, "onnx"),
        ("torch", _must_not_ask, "torch"),
    ],
)
def test_backend_choice(backend: Any, cuda: Any, chosen: str) -> None:
    assert choose_backend(EmbeddingSettings(backend=backend), cuda) == chosen


def test_no_gpu_device_node_means_no_gpu_without_importing_torch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(encoder_module, "GPU_DEVICE_NODES", (tmp_path / "nvidiactl",))
    monkeypatch.setattr(
        encoder_module.importlib.util, "find_spec", lambda name, *a: pytest.fail("looked")
    )
    assert cuda_available() is False


def test_no_torch_installed_means_no_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The CPU image has no torch: auto must settle on ONNX without trying to import it.
    (tmp_path / "nvidiactl").touch()
    monkeypatch.setattr(encoder_module, "GPU_DEVICE_NODES", (tmp_path / "nvidiactl",))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        encoder_module.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torch" else real_find_spec(name, *a),
    )
    assert cuda_available() is False


def test_a_missing_onnx_folder_says_to_run_make_install(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "all-MiniLM-L6-v2"
    settings = EmbeddingSettings(backend="onnx", model_dir=missing)

    with pytest.raises(ModelNotInstalledError, match="make install") as raised:
        load_encoder(settings)

    assert str(missing) in str(raised.value)


def test_auto_without_a_gpu_loads_the_onnx_folder_and_logs_it(
    toy_model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    toy = toy_model(dimension=8)
    settings = EmbeddingSettings(model_dir=toy.dir, dimension=8)

    with caplog.at_level(logging.INFO, logger="polystream_embeddings.encoder"):
        encoder = load_encoder(settings, cuda=_no_gpu)

    assert (encoder.backend, encoder.device, encoder.dimension) == ("onnx", "cpu", 8)
    record = next(r for r in caplog.records if r.name == "polystream_embeddings.encoder")
    assert "onnx on cpu" in record.getMessage()
    assert (record.__dict__["backend"], record.__dict__["device"]) == ("onnx", "cpu")


def test_a_model_of_another_dimension_is_refused(toy_model: Any) -> None:
    toy = toy_model(dimension=8)
    settings = EmbeddingSettings(backend="onnx", model_dir=toy.dir, dimension=384)

    with pytest.raises(ValueError, match=r"8-dimension vectors but settings\.dimension is 384"):
        load_encoder(settings)
