"""Mean pooling and L2 normalisation: what sentence-transformers' ``Pooling`` (mean) and
``Normalize`` modules do after the transformer, in numpy, so the ONNX backend needs no torch.

The two backends agree only if this is the same arithmetic: padding tokens are left out of the
mean by the attention mask (a sentence's vector must not depend on the longest sentence of its
batch), the token count is clamped at 1e-9 and the norm at 1e-12, as torch's
``torch.clamp(..., min=1e-9)`` and ``F.normalize`` do.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def mean_pool(
    token_embeddings: npt.NDArray[np.float32], attention_mask: npt.NDArray[np.integer]
) -> npt.NDArray[np.float32]:
    """(batch, seq, dim) token vectors and a (batch, seq) 0/1 mask -> (batch, dim) means of the
    tokens the mask keeps."""
    mask = attention_mask.astype(np.float32)[:, :, np.newaxis]
    summed = (token_embeddings * mask).sum(axis=1)
    counts = np.clip(mask.sum(axis=1), 1e-9, None)
    pooled: npt.NDArray[np.float32] = (summed / counts).astype(np.float32, copy=False)
    return pooled


def l2_normalize(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Each row scaled to unit length (a zero row stays zero), so a dot product is a cosine."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: npt.NDArray[np.float32] = (vectors / np.clip(norms, 1e-12, None)).astype(
        np.float32, copy=False
    )
    return unit
