#!/usr/bin/env bash
# The local stack of real servers, as plain processes: Kafka (KRaft), PostgreSQL, Redis, Prometheus.
#   stack.sh up       install (cached), start what is not running, wait until each one is ready
#   stack.sh down     stop exactly the processes this script started (by pid), nothing else
#   stack.sh status   each process, its pid and readiness; exits 1 unless all are ready
#   stack.sh reset    down, then wipe the data in .stack/ (downloads in .cache/ stay)
#   stack.sh logs X   the log of process X
# Ports come from stack.env; data and logs live in .stack/, downloads in .cache/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/deploy/local"
# shellcheck source=stack.env
source "$HERE/stack.env"
STATE="$ROOT/.stack"
CACHE="$ROOT/.cache"
PG_BIN=/usr/lib/postgresql/15/bin
PROCESSES=(kafka postgres redis prometheus)
PY="$ROOT/.venv/bin/python"

pidfile() { echo "$STATE/pids/$1.pid"; }
running() { local f; f=$(pidfile "$1"); [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

# Start a command in its own session (so `down` can stop its whole process group).
launch() {
  local name=$1; shift
  mkdir -p "$STATE/logs" "$STATE/pids"
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
}

# -- per process: start and readiness ------------------------------------------------------
start_kafka() {
  local data="$STATE/kafka" props="$STATE/kafka.properties"
  mkdir -p "$data" "$STATE/logs"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@DATA_DIR@|$data|g" "$HERE/kafka/server.properties.template" >"$props"
  if [ ! -f "$data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$CACHE/kafka/lib/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    java -cp "$CACHE/kafka/lib/*" -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$props" --ignore-formatted \
      >>"$STATE/logs/kafka.log" 2>&1
  fi
  launch kafka java -Xms512m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" \
    -cp "$CACHE/kafka/lib/*" kafka.Kafka "$props"
}
ready_kafka() {  # a real metadata round trip, not a bare TCP connect
  "$PY" - "$KAFKA_PORT" <<'PY' >/dev/null 2>&1
import sys
from confluent_kafka.admin import AdminClient
AdminClient({"bootstrap.servers": f"127.0.0.1:{sys.argv[1]}"}).list_topics(timeout=2)
PY
}

start_postgres() {
  local data="$STATE/postgres" sock="$STATE/postgres-socket"
  mkdir -p "$STATE/logs"
  mkdir -p "$sock" && chown postgres "$sock"
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data" && chown postgres "$data" && chmod 700 "$data"
    local pwfile; pwfile=$(mktemp); echo "$POSTGRES_PASSWORD" >"$pwfile"; chmod 644 "$pwfile"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$data" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 --pwfile="$pwfile" >>"$STATE/logs/postgres.log" 2>&1
    rm -f "$pwfile"
  fi
  # initdb refuses root, so the server runs as the postgres OS user.
  launch postgres runuser -u postgres -- "$PG_BIN/postgres" -D "$data" -p "$POSTGRES_PORT" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories="$sock" \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200
}
ready_postgres() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" || return 1
  local psql=(runuser -u postgres -- psql -qAt -h "$STATE/postgres-socket" -p "$POSTGRES_PORT" -d postgres)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='$POSTGRES_USER'")" != 1 ]; then
    "${psql[@]}" -c "CREATE ROLE $POSTGRES_USER LOGIN SUPERUSER PASSWORD '$POSTGRES_PASSWORD'"
  fi
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$POSTGRES_DB'")" != 1 ]; then
    "${psql[@]}" -c "CREATE DATABASE $POSTGRES_DB OWNER $POSTGRES_USER"
  fi
}

start_redis() {
  launch redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no
}
ready_redis() { [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

start_prometheus() {
  mkdir -p "$STATE/prometheus"
  launch prometheus prometheus --config.file="$HERE/prometheus.yml" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --storage.tsdb.path="$STATE/prometheus" \
    --storage.tsdb.retention.time=2d
}
ready_prometheus() { curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" >/dev/null 2>&1; }

stop_signal() { [ "$1" = postgres ] && echo INT || echo TERM; }  # INT: postgres' fast shutdown

# -- commands ----------------------------------------------------------------------------------
up() {
  bash "$HERE/install.sh"
  [ -x "$PY" ] || { echo "missing $PY: run 'make install' first" >&2; exit 1; }
  for name in "${PROCESSES[@]}"; do
    running "$name" || "start_$name"
  done
  local deadline=$((SECONDS + ${STACK_TIMEOUT:-180}))
  for name in "${PROCESSES[@]}"; do
    until "ready_$name"; do
      if ! running "$name" || ((SECONDS > deadline)); then
        echo "$name did not become ready; last lines of $STATE/logs/$name.log:" >&2
        tail -n 30 "$STATE/logs/$name.log" >&2 || true
        exit 1
      fi
      sleep 0.5
    done
  done
  echo "local stack ready: Kafka 127.0.0.1:$KAFKA_PORT, PostgreSQL 127.0.0.1:$POSTGRES_PORT," \
       "Redis 127.0.0.1:$REDIS_PORT, Prometheus http://127.0.0.1:$PROMETHEUS_PORT"
}

down() {
  local name pid
  for name in "${PROCESSES[@]}"; do
    running "$name" || { rm -f "$(pidfile "$name")"; continue; }
    pid=$(cat "$(pidfile "$name")")
    kill -"$(stop_signal "$name")" -- "-$pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$(pidfile "$name")"
    echo "stopped $name (pid $pid)"
  done
}

status() {
  local name ok=0
  for name in "${PROCESSES[@]}"; do
    if running "$name" && "ready_$name" >/dev/null 2>&1; then
      printf '%-11s ready    pid %s\n' "$name" "$(cat "$(pidfile "$name")")"
    elif running "$name"; then
      printf '%-11s starting pid %s\n' "$name" "$(cat "$(pidfile "$name")")"; ok=1
    else
      printf '%-11s stopped\n' "$name"; ok=1
    fi
  done
  return $ok
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  reset) down; rm -rf "$STATE"; echo "wiped $STATE" ;;
  logs) tail -n "${3:-100}" "$STATE/logs/${2:?process name}.log" ;;
  *) sed -n '2,8p' "$0"; exit 2 ;;
esac
