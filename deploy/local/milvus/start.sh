#!/usr/bin/env bash
# Runs the local Milvus 2.3 standalone server in the foreground (process-compose supervises it;
# SIGTERM stops it): serve.py renders .stack/milvus/configs/{milvus,embedEtcd}.yaml with the
# ports of stack.env, unpacks the binaries into .stack/milvus/bin once, then execs Milvus.
# Data (embedded etcd, rocksmq, segments) in .stack/milvus/data. Run install.sh first.
# MILVUS_LOG_LEVEL (default warn) sets Milvus' log level; its log goes to stdout.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
set -a
# shellcheck source=deploy/local/stack.env
source "$ROOT/deploy/local/stack.env"
set +a
STACK_DIR=${STACK_DIR:-$ROOT/.stack}
VENV="${STACK_CACHE:-$ROOT/.cache}/milvus-venv"
mkdir -p "$STACK_DIR/milvus"
exec "$VENV/bin/python" "$HERE/serve.py" "$STACK_DIR/milvus"
