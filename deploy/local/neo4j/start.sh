#!/usr/bin/env bash
# Runs the local Neo4j server (Neo4j 5.26, embedded in Neo4jServerMain) in the foreground; the
# supervisor (process-compose) stops it with SIGTERM, which shuts the databases down cleanly.
# Run install.sh first. Bolt on 127.0.0.1:NEO4J_BOLT_PORT (stack.env), auth on: user neo4j,
# password NEO4J_PASSWORD (set on every start). Data and Neo4j's own debug log in $STACK_DIR/neo4j.
# Memory: NEO4J_HEAP (default 768m) for the JVM heap, NEO4J_PAGECACHE_MB (default 128) for the
# page cache, which lives outside the heap.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=deploy/local/stack.env
source "$ROOT/deploy/local/stack.env"
STACK_DIR=${STACK_DIR:-$ROOT/.stack}
CACHE="${STACK_CACHE:-$ROOT/.cache}/neo4j"

mkdir -p "$STACK_DIR/neo4j"
exec java -Xms256m -Xmx"${NEO4J_HEAP:-768m}" -XX:+UseG1GC -Djava.awt.headless=true \
  -XX:+ExitOnOutOfMemoryError \
  -cp "$CACHE/lib/*:$CACHE/classes" Neo4jServerMain \
  "$STACK_DIR/neo4j" "$NEO4J_BOLT_PORT" "$NEO4J_PASSWORD" "${NEO4J_PAGECACHE_MB:-128}"
