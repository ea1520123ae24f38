#!/usr/bin/env bash
# The local stack of real servers (Kafka, PostgreSQL, Redis, MongoDB wire, Milvus, Neo4j,
# Prometheus) as plain processes under process-compose (deploy/local/process-compose.yaml).
#   stack.sh up            install (cached), start the stack detached, wait until every process
#                          is ready (STACK_TIMEOUT seconds, default 180); returns at once if it is up
#   stack.sh down          stop the stack (process-compose down), then make sure no process it
#                          started is left (by recorded pid); nothing else is touched
#   stack.sh status        each process, its state and readiness; exits 1 unless all are ready
#   stack.sh logs NAME [N|-f]   the last N (100) lines of a process' log, or follow it
#   stack.sh reset         down, then wipe .stack/ (data, logs); downloads in .cache/ stay
#   stack.sh stop NAME     stop one process (chaos tests: a store goes down)
#   stack.sh start NAME    start a stopped process again and wait until the stack is ready
# Ports come from stack.env; data and logs live in .stack/, downloads and builds in .cache/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
set -a
# shellcheck source=deploy/local/stack.env
source "$HERE/stack.env"
set +a
# POLYSTREAM_STACK_DIR moves data and logs elsewhere (a second, throwaway stack; ports stay).
export STACK_ROOT="$ROOT" STACK_DIR="${POLYSTREAM_STACK_DIR:-$ROOT/.stack}" STACK_CACHE="$ROOT/.cache"
# Every process of the stack inherits this variable: `down` only kills a recorded pid that has it.
export POLYSTREAM_STACK="$STACK_DIR"
# process-compose looks for its settings here (and logs noise to stderr when it finds none);
# NO_COLOR keeps its log file plain.
export XDG_CONFIG_HOME="$STACK_DIR/config" NO_COLOR=1
PC="$STACK_CACHE/bin/process-compose"
PYTHON=/usr/bin/python3
LOGS="$STACK_DIR/logs"
PIDS="$STACK_DIR/pids"
# Ports the stack's processes bind: `up` refuses to start while something else holds one.
STACK_PORTS=(PROCESS_COMPOSE_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT POSTGRES_PORT REDIS_PORT
             PROMETHEUS_PORT MONGO_PORT MILVUS_PORT MILVUS_METRICS_PORT MILVUS_ETCD_PORT
             MILVUS_ETCD_PEER_PORT MILVUS_PROXY_INTERNAL_PORT MILVUS_ROOT_COORD_PORT
             MILVUS_QUERY_COORD_PORT MILVUS_QUERY_NODE_PORT MILVUS_INDEX_COORD_PORT
             MILVUS_INDEX_NODE_PORT MILVUS_DATA_COORD_PORT MILVUS_DATA_NODE_PORT
             NEO4J_BOLT_PORT)
# Ports Prometheus scrapes: rendered into its config from prometheus.yml.template (render_config).
SCRAPE_PORTS=(PROMETHEUS_PORT PRODUCER_METRICS_PORT SENSOR_CONSUMER_METRICS_PORT
              EVENT_CONSUMER_METRICS_PORT EMBEDDER_METRICS_PORT GRAPH_WRITER_METRICS_PORT
              AGGREGATOR_METRICS_PORT RECSYS_API_PORT LAKE_WRITER_METRICS_PORT
              ORCHESTRATOR_METRICS_PORT SHOP_API_PORT SHOP_RELAY_METRICS_PORT
              SHOP_CATALOG_METRICS_PORT)

die() { echo "stack: $*" >&2; exit 1; }

# process-compose client against this stack's server.
pc() {
  "$PC" --address 127.0.0.1 --port "$PROCESS_COMPOSE_PORT" \
        --log-file "$LOGS/process-compose-client.log" "$@"
}
pc_up() { [ -x "$PC" ] && pc process list -o json >/dev/null 2>&1; }

# One line per process: NAME STATUS HEALTH RESTARTS EXIT_CODE PID (from `process list -o json`;
# spaces in values become _, e.g. Not_Ready).
states() {
  pc process list -o json 2>/dev/null | "$PYTHON" -c '
import json, sys
try:
    procs = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
for p in sorted(procs, key=lambda p: p["name"]):
    fields = (p["name"], p["status"], p["is_ready"], p["restarts"], p["exit_code"], p["pid"])
    print(*(str(f).replace(" ", "_") for f in fields))'
}

# pid of whatever listens on 127.0.0.1:PORT (empty if none).
listener_pid() {
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1
}

# Is pid $1 alive and started by this stack? Processes started by process-compose carry
# POLYSTREAM_STACK=<this .stack> in their environment; those of the earlier pid-file stack name
# .stack/ in their command line or hold one of the stack's ports.
ours() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
  tr '\0' '\n' 2>/dev/null <"/proc/$1/environ" | grep -qxF "POLYSTREAM_STACK=$STACK_DIR" && return 0
  tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF "$STACK_DIR/" && return 0
  local var
  for var in "${STACK_PORTS[@]}"; do
    [ "$(listener_pid "${!var}")" = "$1" ] && return 0
  done
  return 1
}

stop_pid() {  # pid, signal: signal its process group when it leads one, else the pid alone
  if [ "$(ps -o pgid= -p "$1" | tr -d ' ')" = "$1" ]; then
    kill -s "$2" -- "-$1" 2>/dev/null || true
  else
    kill -s "$2" "$1" 2>/dev/null || true
  fi
}

leftovers() {  # 0 when a recorded pid of this stack is still alive
  local f
  for f in "$PIDS"/*.pid; do
    [ -f "$f" ] && ours "$(cat "$f")" && return 0
  done
  return 1
}

wait_gone() {  # pid, seconds: 0 once the pid is gone
  local i
  for ((i = 0; i < $2 * 5; i++)); do ours "$1" || return 0; sleep 0.2; done
  return 1
}

record_pids() {  # pid files of the supervisor and of each running process, for `down`
  mkdir -p "$PIDS"
  local name status health restarts code pid
  while read -r name status health restarts code pid; do
    [ "$pid" -gt 0 ] 2>/dev/null && echo "$pid" >"$PIDS/$name.pid"
  done < <(states)
  pid=$(listener_pid "$PROCESS_COMPOSE_PORT")
  if ours "$pid"; then echo "$pid" >"$PIDS/process-compose.pid"; fi
}

# .stack/prometheus.yml from the template, with the ports of stack.env (and nothing else: envsubst
# is told which variables to replace). Fails on a variable of the template that stack.env lacks.
render_config() {
  local var names=""
  for var in "${SCRAPE_PORTS[@]}"; do
    [ -n "${!var:-}" ] || die "$var is not set in stack.env"
    names+=" \$$var"
  done
  envsubst "$names" <"$HERE/prometheus.yml.template" >"$STACK_DIR/prometheus.yml.new"
  if grep -n '\${' "$STACK_DIR/prometheus.yml.new" >&2; then
    die "prometheus.yml.template names a variable missing from SCRAPE_PORTS in stack.sh"
  fi
  mv -f "$STACK_DIR/prometheus.yml.new" "$STACK_DIR/prometheus.yml"
}

check_config() {
  local var
  for var in "${STACK_PORTS[@]}"; do
    local pid; pid=$(listener_pid "${!var}")
    if [ -n "$pid" ]; then
      die "port ${!var} ($var) is taken by pid $pid: $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | cut -c1-150)"
    fi
  done
}

# Wait until every process is ready (servers: Running + probe Ready; one-shots: exit 0).
wait_ready() {
  local timeout=${STACK_TIMEOUT:-180} start=$SECONDS all first name status health restarts code pid
  while :; do
    first="" all=$(states) || all=""
    if [ -z "$all" ]; then
      ((SECONDS - start < 15)) || fail process-compose "did not answer on 127.0.0.1:$PROCESS_COMPOSE_PORT"
      first=process-compose
    fi
    while read -r name status health restarts code pid; do
      [ -n "$name" ] || continue
      [ "$restarts" = 0 ] || fail "$name" "restarted $restarts times"
      case "$status" in
        Completed) [ "$code" = 0 ] || fail "$name" "exited with code $code" ;;
        Error|Skipped|Terminating) fail "$name" "is $status (exit code $code)" ;;
        Running) [ "$health" = Ready ] || first=${first:-$name} ;;
        Disabled) ;;
        *) first=${first:-$name} ;;
      esac
    done <<<"$all"
    [ -z "$first" ] && return 0
    ((SECONDS - start <= timeout)) || fail "$first" "not ready after ${timeout}s"
    sleep 0.5
  done
}

fail() {  # name, reason: report with the log tail, stop the stack, exit 1
  local name=$1 log
  echo "stack: $name $2" >&2
  for log in "$LOGS/$name.log" "$LOGS/process-compose.log"; do
    if [ -s "$log" ]; then
      echo "----- last lines of $log" >&2
      tail -n 40 "$log" >&2
    fi
  done
  echo "-----" >&2
  if [ -z "${STACK_KEEP_ON_FAILURE:-}" ]; then
    echo "stack: stopping the stack (STACK_KEEP_ON_FAILURE=1 keeps it for inspection)" >&2
    down >&2 || true
  fi
  exit 1
}

summary() {
  echo "local stack ready: Kafka 127.0.0.1:$KAFKA_PORT, PostgreSQL 127.0.0.1:$POSTGRES_PORT," \
       "Redis 127.0.0.1:$REDIS_PORT, MongoDB wire 127.0.0.1:$MONGO_PORT, Milvus 127.0.0.1:$MILVUS_PORT," \
       "Neo4j bolt://127.0.0.1:$NEO4J_BOLT_PORT, Prometheus http://127.0.0.1:$PROMETHEUS_PORT" \
       "(process-compose 127.0.0.1:$PROCESS_COMPOSE_PORT)"
}

# -- commands ----------------------------------------------------------------------------------
up() {
  bash "$HERE/install.sh"
  mkdir -p "$LOGS" "$PIDS" "$XDG_CONFIG_HOME/process-compose"
  if pc_up; then  # already running: just make sure it is (still) ready
    wait_ready
    record_pids
    summary
    return
  fi
  if leftovers; then
    echo "stack: stopping processes left by an earlier run"
    down
  fi
  check_config
  render_config
  local file="$HERE/process-compose.yaml"
  pc up --dry-run --disable-dotenv -f "$file" >"$LOGS/process-compose-check.log" 2>&1 ||
    { cat "$LOGS/process-compose-check.log" >&2; die "process-compose.yaml is invalid"; }
  local log
  for log in "$LOGS"/*.log; do  # each up starts fresh logs; the previous ones stay as .1
    [ -f "$log" ] && [[ $log != *-check.log ]] && mv -f "$log" "$log.1"
  done
  # -D forks a server (setsid, stdout/stderr to /dev/null; it logs to --log-file) and returns.
  pc up --detached --disable-dotenv -f "$file" --log-file "$LOGS/process-compose.log" \
    >/dev/null
  wait_ready
  record_pids
  summary
}

down() {
  mkdir -p "$PIDS"
  local did=0 pid name f sig
  if pc_up; then
    record_pids
    pc down >/dev/null 2>&1 || true
    did=1
  fi
  # The supervisor first (it stops the processes in reverse dependency order), then any process
  # it left behind, by recorded pid: TERM (postgres: INT, its fast shutdown), KILL after 30 s.
  for f in "$PIDS/process-compose.pid" "$PIDS"/*.pid; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .pid); pid=$(cat "$f"); rm -f "$f"
    ours "$pid" || continue
    did=1
    if [ "$name" = process-compose ]; then
      wait_gone "$pid" 90 || kill -s TERM "$pid" 2>/dev/null || true
    else
      sig=TERM; [ "$name" = postgres ] && sig=INT
      echo "stack: stopping $name (pid $pid, not stopped by process-compose): SIG$sig" >&2
      stop_pid "$pid" "$sig"
    fi
    if ! wait_gone "$pid" 30; then
      echo "stack: $name (pid $pid) did not stop: SIGKILL" >&2
      stop_pid "$pid" KILL
    fi
  done
  if ((did)); then echo "local stack stopped"; else echo "local stack is not running"; fi
}

status() {
  if ! pc_up; then
    echo "local stack is down"
    if leftovers; then echo "(processes of an earlier run are alive: 'stack.sh down' stops them)"; fi
    return 1
  fi
  local ok=0 name status health restarts code pid
  printf '%-12s %-10s %-10s %-8s %s\n' PROCESS STATUS READY RESTARTS PID
  while read -r name status health restarts code pid; do
    printf '%-12s %-10s %-10s %-8s %s\n' "$name" "$status" "$health" "$restarts" "$pid"
    case "$status/$health" in
      Running/Ready|Disabled/*) ;;
      Completed/*) [ "$code" = 0 ] || ok=1 ;;
      *) ok=1 ;;
    esac
  done < <(states)
  return $ok
}

logs() {
  local name=${1:?usage: stack.sh logs NAME [LINES|-f]} n=${2:-100}
  local log="$LOGS/$name.log"
  [ -f "$log" ] || die "no log $log (see $LOGS)"
  if [ "$n" = -f ]; then exec tail -n 100 -F "$log"; fi
  tail -n "$n" "$log"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  logs) shift; logs "$@" ;;
  reset)
    down
    # PostgreSQL's data lives outside .stack/ when its OS user cannot reach it (postgres/start.sh).
    if [ -L "$STACK_DIR/postgres-home" ]; then rm -rf "$(readlink "$STACK_DIR/postgres-home")"; fi
    rm -rf "$STACK_DIR"; echo "wiped $STACK_DIR" ;;
  stop) pc_up || die "the stack is not running"; pc process stop "${2:?usage: stack.sh stop NAME}" ;;
  start)
    pc_up || die "the stack is not running"
    pc process start "${2:?usage: stack.sh start NAME}"
    wait_ready
    record_pids ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
