"""A toy model folder in the exported layout (model.onnx + tokenizer.json), built in the test: the
ONNX backend's tokenizing, batching, padding and pooling run for real, with no model and no
files from outside the test. Its "transformer" is an embedding lookup, so the right vector of any
sentence is a mean of table rows that numpy computes independently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, pre_tokenizers, processors

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
WORDS = ["running", "shoes", "marathon", "footwear", "kitchen", "knife", "red", "blue", "a", "the"]
VOCAB = {token: i for i, token in enumerate([*SPECIALS, *WORDS])}


def toy_table(dimension: int) -> npt.NDArray[np.float32]:
    return np.random.default_rng(7).normal(size=(len(VOCAB), dimension)).astype(np.float32)


def toy_expected(
    text: str, table: npt.NDArray[np.float32], max_len: int
) -> npt.NDArray[np.float32]:
    """What the encoder must return for ``text``: the unit-length mean of its tokens' rows."""
    ids = [VOCAB.get(w, VOCAB["[UNK]"]) for w in text.lower().split()][: max_len - 2]
    rows = table[[VOCAB["[CLS]"], *ids, VOCAB["[SEP]"]]]
    mean = rows.mean(axis=0)
    unit: npt.NDArray[np.float32] = (mean / np.linalg.norm(mean)).astype(np.float32)
    return unit


def build_toy_model(
    out: Path, dimension: int = 8, token_type_ids: bool = True
) -> npt.NDArray[np.float32]:
    """Writes the toy folder to ``out``; returns its embedding table."""
    out.mkdir(parents=True, exist_ok=True)
    table = toy_table(dimension)
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if token_type_ids else [])
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"]) for n in names]
    output = helper.make_tensor_value_info(
        "last_hidden_state", TensorProto.FLOAT, ["batch", "seq", dimension]
    )
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["last_hidden_state"], axis=0)],
        "toy",
        inputs,
        [output],
        initializer=[numpy_helper.from_array(table, "table")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(out / "model.onnx"))

    tokenizer = Tokenizer(models.WordLevel(VOCAB, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[("[CLS]", VOCAB["[CLS]"]), ("[SEP]", VOCAB["[SEP]"])],
    )
    # Like the real tokenizer.json: fixed padding and a short truncation the encoder must undo.
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=16)
    tokenizer.enable_truncation(max_length=4)
    tokenizer.save(str(out / "tokenizer.json"))
    return table


@dataclass
class ToyModel:
    dir: Path
    table: npt.NDArray[np.float32]

    def expected(self, text: str, max_seq_length: int = 256) -> npt.NDArray[np.float32]:
        return toy_expected(text, self.table, max_seq_length)


@pytest.fixture
def toy_model(tmp_path: Path) -> Callable[..., ToyModel]:
    """``toy_model(dimension=8, token_type_ids=True)`` builds a folder and returns it."""

    def build(dimension: int = 8, token_type_ids: bool = True) -> ToyModel:
        out = tmp_path / f"toy-{dimension}-{token_type_ids}"
        return ToyModel(out, build_toy_model(out, dimension, token_type_ids))

    return build
