#!/usr/bin/env bash
# Installs the local stack's Milvus 2.3 standalone server once: the PyPI package `milvus` 2.3.5
# (milvus-server: the Milvus binaries plus a Python wrapper) into its own virtualenv,
# .cache/milvus-venv. Not into the project's .venv: the package pins old dependencies.
# Python 3.11 (the wrapper is stdlib only), through uv when there is one, else python3.11 -m venv.
# Skipped when the venv holds this version already. Start it with start.sh (or the process-compose
# entry in deploy/local).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
MILVUS_VERSION=2.3.5
VENV="$ROOT/.cache/milvus-venv"
stamp="$VENV/.stamp-milvus-$MILVUS_VERSION"
if [ -f "$stamp" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi

echo "install: Milvus $MILVUS_VERSION (PyPI milvus) -> .cache/milvus-venv (once)"
rm -rf "$VENV"
UV=$(command -v uv || true)
[ -n "$UV" ] || UV="$ROOT/.cache/tools/bin/uv"
if [ -x "$UV" ]; then
  "$UV" venv -q --python 3.11 "$VENV"
  "$UV" pip install -q --python "$VENV/bin/python" "milvus==$MILVUS_VERSION"
else  # before `make install` has fetched uv: the plain venv module of any Python 3.11
  PY=$(command -v python3.11 || true)
  [ -n "$PY" ] || { echo "install: neither uv nor python3.11 found" >&2; exit 1; }
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "milvus==$MILVUS_VERSION"
fi
touch "$stamp"
