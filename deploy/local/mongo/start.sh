#!/usr/bin/env bash
# Runs the local MongoDB wire-protocol server in the foreground; the supervisor (process-compose
# or stack.sh) stops it with SIGTERM. Run install.sh first.
#   start.sh            memory backend: fast (~10x the H2 write rate), emptied by a restart
#   start.sh --h2       H2 file backend: $STACK_DIR/mongo/data.mv.db survives a restart
# Port: MONGO_PORT from deploy/local/stack.env. Heap: MONGO_HEAP (default 2g; the memory
# backend keeps every document on the heap).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=deploy/local/stack.env
source "$ROOT/deploy/local/stack.env"
STACK_DIR=${STACK_DIR:-$ROOT/.stack}
CACHE="${STACK_CACHE:-$ROOT/.cache}/mongo"

case "${1:-}" in
  "") storage=(--memory) ;;
  --h2) mkdir -p "$STACK_DIR/mongo"; storage=(--data "$STACK_DIR/mongo/data.mv.db") ;;
  *) echo "usage: start.sh [--h2]" >&2; exit 2 ;;
esac
exec java -Xms256m -Xmx"${MONGO_HEAP:-2g}" -XX:+UseG1GC -Djava.awt.headless=true \
  -cp "$CACHE/lib/*:$CACHE/classes" MongoServerMain \
  --host 127.0.0.1 --port "$MONGO_PORT" "${storage[@]}" --log-level "${MONGO_LOG_LEVEL:-warn}"
