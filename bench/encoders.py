"""The two encoder backends on the same sentences, on this machine: sentences/s of the ONNX
export in onnxruntime (the CPU default) and of sentence-transformers on torch (the GPU backend,
here on whatever device it finds), the ratio onnx/torch, and how far their vectors agree (min and
mean cosine between the backends, row by row).

The sentences are 2,000 product descriptions from the producer's catalog generator (seeded, ~20
words each: what the embedder encodes). Both backends get the same batch size; each is warmed up,
then the two are timed in turn ``repeat`` times and the run with the median ratio is reported,
with every run's ratio beside it, as ``make bench`` does. Not a test: nothing asserts a timing.

    python bench/encoders.py [--sentences 2000] [--batch-size 64] [--repeat 3]

writes bench/results/encoders.json with the command that made it. ``bench_backends`` is the
importable part. Needs the dev environment (torch) and the exported model (``make install``).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from results_file import write_results

from polystream_embeddings.encoder import Encoder, default_source_dir, load_encoder
from polystream_embeddings.export import export
from polystream_embeddings.settings import EmbeddingSettings
from producer.generators import Catalog

ROOT = Path(__file__).resolve().parents[1]


def product_sentences(count: int = 2000, seed: int = 7) -> list[str]:
    """``count`` product descriptions, the same for every run with the same seed."""
    return [p.description for p in Catalog(random.Random(seed), products=count).products]


def _rate(encoder: Encoder, texts: list[str]) -> tuple[float, np.ndarray[Any, Any]]:
    started = time.perf_counter()
    vectors = encoder.encode(texts)
    return len(texts) / (time.perf_counter() - started), vectors


def bench_backends(texts: list[str], batch_size: int, repeat: int = 3) -> dict[str, Any]:
    """Sentences/s of each backend on ``texts``, their ratio and the cosines between them."""
    model_dir = ROOT / EmbeddingSettings().model_dir
    export(default_source_dir(), model_dir)  # skipped when make install has exported it
    base = EmbeddingSettings(model_dir=model_dir, batch_size=batch_size)
    onnx = load_encoder(base.model_copy(update={"backend": "onnx"}))
    torch = load_encoder(base.model_copy(update={"backend": "torch"}))
    for encoder in (onnx, torch):
        encoder.encode(texts[: 2 * batch_size])  # warm-up: first-call allocations, lazy init
    runs = []
    for _ in range(repeat):
        onnx_rate, onnx_vectors = _rate(onnx, texts)
        torch_rate, torch_vectors = _rate(torch, texts)
        runs.append((onnx_rate / torch_rate, onnx_rate, torch_rate))
    ratio, onnx_rate, torch_rate = sorted(runs)[len(runs) // 2]
    cosines = (onnx_vectors * torch_vectors).sum(axis=1) / (
        np.linalg.norm(onnx_vectors, axis=1) * np.linalg.norm(torch_vectors, axis=1)
    )
    return {
        "sentences": len(texts),
        "mean_words": round(statistics.mean(len(t.split()) for t in texts), 1),
        "batch_size": batch_size,
        "onnx": {"device": onnx.device, "sentences_per_s": round(onnx_rate, 1)},
        "torch": {"device": torch.device, "sentences_per_s": round(torch_rate, 1)},
        "ratio_onnx_vs_torch": round(ratio, 3),
        "ratios_of_runs": [round(r[0], 3) for r in runs],
        "sentences_per_s_of_runs": {
            "onnx": [round(r[1], 1) for r in runs],
            "torch": [round(r[2], 1) for r in runs],
        },
        "cosine_min": float(cosines.min()),
        "cosine_mean": float(cosines.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=EmbeddingSettings().batch_size)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each backend")
    args = parser.parse_args()
    load_before = os.getloadavg()
    figures = bench_backends(product_sentences(args.sentences), args.batch_size, args.repeat)
    write_results(
        "encoders",
        {"onnx_vs_torch": figures},
        # Other work on the machine takes cores from both backends alike, not from the ratio.
        machine={"load_average_1m_at_start": round(load_before[0], 2)},
    )


if __name__ == "__main__":
    main()
