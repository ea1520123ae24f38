#!/usr/bin/env bash
# Runs the local Kafka broker in the foreground (process-compose supervises it; SIGTERM stops it
# cleanly): one KRaft node that is broker and controller, data in .stack/kafka.
# Renders server.properties.template into .stack/kafka.properties and formats the storage once
# (skipped when .stack/kafka/meta.properties exists). Run install.sh first.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=deploy/local/stack.env
source "$ROOT/deploy/local/stack.env"
STACK_DIR=${STACK_DIR:-$ROOT/.stack}
LIB="$ROOT/.cache/kafka/lib"
DATA="$STACK_DIR/kafka"
PROPS="$STACK_DIR/kafka.properties"
LOG_CONFIG=(-Dlog4j2.configurationFile="$HERE/log4j2.properties")

mkdir -p "$DATA"
sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$DATA|g" "$HERE/server.properties.template" >"$PROPS"

if [ ! -f "$DATA/meta.properties" ]; then
  cluster_id=$(java -cp "$LIB/*" "${LOG_CONFIG[@]}" kafka.tools.StorageTool random-uuid | tail -1)
  # Static controller.quorum.voters: no --standalone needed.
  java -cp "$LIB/*" "${LOG_CONFIG[@]}" kafka.tools.StorageTool format \
    -t "$cluster_id" -c "$PROPS" --ignore-formatted
fi

exec java -Xms512m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
  "${LOG_CONFIG[@]}" -cp "$LIB/*" kafka.Kafka "$PROPS"
