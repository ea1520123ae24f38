#!/usr/bin/env bash
# Installs the local stack's Milvus 2.3 standalone server once: the PyPI package `milvus` 2.3.5
# (milvus-server: the Milvus binaries plus a Python wrapper) into its own virtualenv,
# .cache/milvus-venv. Not into the project's .venv: the package pins old dependencies.
# Python 3.11 (the wrapper is stdlib only); uv finds or fetches it. Skipped when the venv holds
# this version already. Start it with start.sh (or the process-compose entry in deploy/local).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
MILVUS_VERSION=2.3.5
VENV="$ROOT/.cache/milvus-venv"
stamp="$VENV/.stamp-milvus-$MILVUS_VERSION"
if [ -f "$stamp" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi

UV=$(command -v uv || true)
[ -n "$UV" ] || UV="$ROOT/.cache/tools/bin/uv"
[ -x "$UV" ] || { echo "install: uv not found (on PATH or .cache/tools/bin)" >&2; exit 1; }
echo "install: Milvus $MILVUS_VERSION (PyPI milvus) -> .cache/milvus-venv (once)"
rm -rf "$VENV"
"$UV" venv -q --python 3.11 "$VENV"
"$UV" pip install -q --python "$VENV/bin/python" "milvus==$MILVUS_VERSION"
touch "$stamp"
