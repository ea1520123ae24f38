"""A fake :class:`~polystream_embeddings.encoder.Encoder` for unit tests: no model, no files,
microseconds a sentence, and the same vector for the same text in every process.

Each lower-cased word is hashed (BLAKE2b, not Python's salted ``hash``) into one of ``dimension``
buckets and the counts are L2-normalised, so texts that share words are similar and texts that
share none are orthogonal (barring a bucket collision): enough for a test to assert a ranking.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from polystream_embeddings.encoder import Encoder

_WORD = re.compile(r"\w+")


class HashingEncoder(Encoder):
    """A bag of hashed words. A text with no words gets the bucket of the empty word, so every
    row is still of unit length."""

    backend = "hashing"
    device = "cpu"

    def __init__(self, dimension: int = 384) -> None:
        if dimension <= 0:
            raise ValueError(f"dimension must be positive, not {dimension}")
        self.model_name = "hashing"
        self.dimension = dimension
        self.calls: list[int] = []  # the size of each encode() call, for tests that batch

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()) or [""]:
                out[row, self._bucket(word)] += 1.0
        out /= np.linalg.norm(out, axis=1, keepdims=True).clip(1e-12)
        return out

    def _bucket(self, word: str) -> int:
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") % self.dimension
