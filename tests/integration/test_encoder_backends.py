"""The real model through both backends: the ONNX export (what CPU services run) must give the
vectors sentence-transformers gives (what a GPU service runs and what the model's authors
measured), so a collection filled by one backend is searched correctly by the other.

Needs the exported folder: the session fixture runs the export into the cache if it is missing,
through the same function `make install` runs; the source is the packaged model folder, so
nothing is downloaded. Needs no server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from polystream_embeddings.encoder import Encoder, cuda_available, default_source_dir, load_encoder
from polystream_embeddings.export import export
from polystream_embeddings.settings import EmbeddingSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

# Well over max_seq_length (256) tokens: both backends must cut it at the same token.
LONG = " ".join(
    f"Section {i}: the waterproof trail running jacket keeps its taped seams dry in heavy rain."
    for i in range(40)
)

SENTENCES = [
    "running shoes",
    "marathon footwear",
    "kitchen knife",
    "Lightweight trail running shoes with a breathable mesh upper and a grippy outsole",
    "Stainless steel chef's knife, 8 inch, full tang, dishwasher safe",
    "Noise-cancelling over-ear headphones, 30 h battery, USB-C fast charging",
    "Organic cotton t-shirt in navy blue, size M",
    "hey, is my order #48213 shipped yet??",
    "I love this product!!! 5 stars ⭐⭐⭐⭐⭐",
    "The delivery was late and the box was damaged.",
    "Can I return an item after 30 days?",
    "Laufschuhe für den Marathon, leicht und gedämpft",
    "chaussures de course légères",
    "运动鞋",
    "SKU-000123 | price: 49.99 EUR | stock: 12",
    "a",
    "",
    "   ",
    "The the the the the the the the the the",
    "Wireless ergonomic mouse; 2.4 GHz receiver; silent clicks; 18-month battery life.",
    "Cast-iron skillet, pre-seasoned, 12-inch, oven safe to 260 °C",
    "Yoga mat — non-slip, 6 mm thick, eco-friendly TPE",
    LONG,
]


@pytest.fixture(scope="session")
def model_dir() -> Path:
    out = ROOT / EmbeddingSettings().model_dir
    export(default_source_dir(), out)  # skips at once when `make install` already exported
    return out


@pytest.fixture(scope="session")
def onnx_encoder(model_dir: Path) -> Encoder:
    return load_encoder(EmbeddingSettings(backend="onnx", model_dir=model_dir))


@pytest.fixture(scope="session")
def torch_encoder() -> Iterator[Encoder]:
    yield load_encoder(EmbeddingSettings(backend="torch", batch_size=8))


def _cosines(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cosines: npt.NDArray[np.float32] = (a * b).sum(axis=1) / norms
    return cosines


def test_the_long_sentence_is_longer_than_max_seq_length(model_dir: Path) -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    assert len(tokenizer.encode(LONG).ids) > 2 * EmbeddingSettings().max_seq_length


def test_both_backends_give_the_same_vectors(onnx_encoder: Encoder, torch_encoder: Encoder) -> None:
    onnx_vectors = onnx_encoder.encode(SENTENCES)
    torch_vectors = torch_encoder.encode(SENTENCES)

    assert onnx_vectors.shape == torch_vectors.shape == (len(SENTENCES), 384)
    assert onnx_vectors.dtype == torch_vectors.dtype == np.float32
    cosines = _cosines(onnx_vectors, torch_vectors)
    disagreeing = {s[:40]: float(c) for s, c in zip(SENTENCES, cosines, strict=True) if c < 0.9999}
    assert not disagreeing, f"cosine below 0.9999: {disagreeing}"


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_unit_rows_and_empty_batches(
    backend: str, onnx_encoder: Encoder, torch_encoder: Encoder
) -> None:
    encoder = onnx_encoder if backend == "onnx" else torch_encoder

    vectors = encoder.encode(SENTENCES)

    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    empty = encoder.encode([])
    assert empty.shape == (0, 384)
    assert empty.dtype == np.float32


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_text_past_max_seq_length_is_cut_off(
    backend: str, onnx_encoder: Encoder, torch_encoder: Encoder
) -> None:
    encoder = onnx_encoder if backend == "onnx" else torch_encoder

    cut, longer = encoder.encode([LONG, LONG + " Kitchen knives and cast-iron pans on sale."])

    np.testing.assert_allclose(cut, longer, atol=1e-6)


def test_batching_does_not_change_a_vector(model_dir: Path, onnx_encoder: Encoder) -> None:
    one_at_a_time = load_encoder(
        EmbeddingSettings(backend="onnx", model_dir=model_dir, batch_size=1)
    )

    np.testing.assert_allclose(
        one_at_a_time.encode(SENTENCES), onnx_encoder.encode(SENTENCES), atol=1e-5
    )


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_running_shoes_are_nearer_marathon_footwear_than_a_kitchen_knife(
    backend: str, onnx_encoder: Encoder, torch_encoder: Encoder
) -> None:
    encoder = onnx_encoder if backend == "onnx" else torch_encoder

    query, footwear, knife = encoder.encode(["running shoes", "marathon footwear", "kitchen knife"])

    assert query @ footwear > query @ knife + 0.2


def test_auto_picks_onnx_without_a_gpu(model_dir: Path) -> None:
    encoder = load_encoder(EmbeddingSettings(model_dir=model_dir))
    assert (encoder.backend, encoder.device) == (
        ("torch", "cuda") if cuda_available() else ("onnx", "cpu")
    )


def test_a_dimension_that_is_not_the_models_is_refused(model_dir: Path) -> None:
    with pytest.raises(ValueError, match="384-dimension"):
        load_encoder(EmbeddingSettings(backend="onnx", model_dir=model_dir, dimension=768))


def test_the_export_is_skipped_when_current(model_dir: Path) -> None:
    assert export(default_source_dir(), model_dir) is False
