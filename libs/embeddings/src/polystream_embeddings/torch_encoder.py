"""The torch backend: sentence-transformers on the packaged model folder, for a machine with a
GPU (where it is the faster one). It also runs on the CPU when asked (``backend="torch"``), which
is how the tests hold the ONNX export to it.

Needs the ``torch`` extra of polystream-embeddings (torch, sentence-transformers and the model
package); a CPU image has none of them and never imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from polystream_embeddings.encoder import Encoder, ModelNotInstalledError, default_source_dir
from polystream_embeddings.settings import EmbeddingSettings


class TorchEncoder(Encoder):
    """Loads ``settings.source_dir`` (default: the packaged model) on ``device``."""

    backend = "torch"

    def __init__(self, settings: EmbeddingSettings, device: str = "cpu") -> None:
        # The model is a local folder: nothing may go to the Hub for it, not even a version check.
        # Read by huggingface_hub when it is first imported, which is below.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ModelNotInstalledError(
                "the torch backend needs polystream-embeddings[torch] (torch, "
                "sentence-transformers); without a GPU use backend='onnx'"
            ) from None
        source = settings.source_dir or default_source_dir()
        if not source.is_dir():
            raise ModelNotInstalledError(f"no sentence-transformers model folder at {source}")
        self.model_name = settings.model_name
        self.device = device
        self._batch_size = settings.batch_size
        self._model = SentenceTransformer(str(source), device=device, local_files_only=True)
        self._model.max_seq_length = settings.max_seq_length
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ValueError(f"{source}: the model does not say its embedding dimension")
        self.dimension = int(dimension)

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
