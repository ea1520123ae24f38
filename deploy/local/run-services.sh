#!/usr/bin/env bash
# `make run`: every service against the running local stack, plus a steady load producer.
# Logs go to .stack/logs/; Ctrl-C (or SIGTERM) stops the services, the stack stays up
# (`make stack-down` stops it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/deploy/local/stack.env"
LOGS="$ROOT/.stack/logs"
PY="$ROOT/.venv/bin/python"
RATE=${RATE:-500}
mkdir -p "$LOGS"

# Each service's servers and metrics port from stack.env, the one place ports are written down
# (the settings' defaults agree with it: tests/unit/test_local_stack_ports.py).
for service in PRODUCER SENSOR_CONSUMER EVENT_CONSUMER EMBEDDER GRAPH_WRITER AGGREGATOR RECSYS_API \
               LAKE_WRITER SHOP_API; do
  export "${service}_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
done
export PRODUCER_METRICS_PORT SENSOR_CONSUMER_METRICS_PORT EVENT_CONSUMER_METRICS_PORT \
       EMBEDDER_METRICS_PORT GRAPH_WRITER_METRICS_PORT AGGREGATOR_METRICS_PORT
export SENSOR_CONSUMER_POSTGRES__HOST=127.0.0.1 SENSOR_CONSUMER_POSTGRES__PORT="$POSTGRES_PORT" \
       SENSOR_CONSUMER_POSTGRES__USER="$POSTGRES_USER" \
       SENSOR_CONSUMER_POSTGRES__PASSWORD="$POSTGRES_PASSWORD" \
       SENSOR_CONSUMER_POSTGRES__DATABASE="$POSTGRES_DB"
export EVENT_CONSUMER_MONGO__URL="mongodb://127.0.0.1:$MONGO_PORT"
# Locally every collection lives in the Milvus server (Qdrant has no server here; see README.md).
export EMBEDDER_MILVUS__URI="http://127.0.0.1:$MILVUS_PORT" \
       EMBEDDER_EMBEDDING__MODEL_DIR="$ROOT/.cache/models/all-MiniLM-L6-v2"
export AGGREGATOR_POSTGRES__HOST=127.0.0.1 AGGREGATOR_POSTGRES__PORT="$POSTGRES_PORT" \
       AGGREGATOR_POSTGRES__USER="$POSTGRES_USER" AGGREGATOR_POSTGRES__PASSWORD="$POSTGRES_PASSWORD" \
       AGGREGATOR_POSTGRES__DATABASE="$POSTGRES_DB" AGGREGATOR_STATE_DIR="$ROOT/.stack/aggregator-state"
export GRAPH_WRITER_NEO4J__URI="bolt://127.0.0.1:$NEO4J_BOLT_PORT" \
       GRAPH_WRITER_NEO4J__USER="$NEO4J_USER" GRAPH_WRITER_NEO4J__PASSWORD="$NEO4J_PASSWORD"
# recsys-api reads every store and serves HTTP (and its /metrics) on RECSYS_API_PORT.
export RECSYS_API_PORT RECSYS_API_MILVUS__URI="http://127.0.0.1:$MILVUS_PORT" \
       RECSYS_API_EMBEDDING__MODEL_DIR="$ROOT/.cache/models/all-MiniLM-L6-v2" \
       RECSYS_API_NEO4J__URI="bolt://127.0.0.1:$NEO4J_BOLT_PORT" RECSYS_API_NEO4J__USER="$NEO4J_USER" \
       RECSYS_API_NEO4J__PASSWORD="$NEO4J_PASSWORD" \
       RECSYS_API_POSTGRES__HOST=127.0.0.1 RECSYS_API_POSTGRES__PORT="$POSTGRES_PORT" \
       RECSYS_API_POSTGRES__USER="$POSTGRES_USER" RECSYS_API_POSTGRES__PASSWORD="$POSTGRES_PASSWORD" \
       RECSYS_API_POSTGRES__DATABASE="$POSTGRES_DB" \
       RECSYS_API_MONGO__URL="mongodb://127.0.0.1:$MONGO_PORT" \
       RECSYS_API_REDIS__URL="redis://127.0.0.1:$REDIS_PORT/0"
# The analytics side: lake-writer fills the Parquet lake; the orchestrator builds the warehouse
# from it (`make warehouse` now, or nightly under Dagster) and exports its freshness; the
# dashboard reads the warehouse.
export LAKE_WRITER_METRICS_PORT LAKE_WRITER_LAKE__URI="$ROOT/.stack/lake"
export ORCHESTRATOR_METRICS_PORT ORCHESTRATOR_LAKE__URI="$ROOT/.stack/lake" \
       ORCHESTRATOR_WAREHOUSE_PATH="$ROOT/.stack/warehouse/polystream.duckdb" \
       ORCHESTRATOR_DBT_PROJECT_DIR="$ROOT/warehouse" ORCHESTRATOR_DBT_CACHE_DIR="$ROOT/.cache/orchestrator/dbt"
export DASHBOARD_PORT DASHBOARD_WAREHOUSE_PATH="$ROOT/.stack/warehouse/polystream.duckdb"
# shop-api: the HTTP API, the outbox relay and the catalog consumer, one settings class.
export SHOP_API_PORT SHOP_API_METRICS_PORT="$SHOP_CATALOG_METRICS_PORT" \
       SHOP_API_RELAY__METRICS_PORT="$SHOP_RELAY_METRICS_PORT" \
       SHOP_API_POSTGRES__HOST=127.0.0.1 SHOP_API_POSTGRES__PORT="$POSTGRES_PORT" \
       SHOP_API_POSTGRES__USER="$POSTGRES_USER" SHOP_API_POSTGRES__PASSWORD="$POSTGRES_PASSWORD" \
       SHOP_API_POSTGRES__DATABASE="$POSTGRES_DB" \
       SHOP_API_MONGO__URL="mongodb://127.0.0.1:$MONGO_PORT" \
       SHOP_API_REDIS__URL="redis://127.0.0.1:$REDIS_PORT/0"

pids=()
start() {  # name, module, args...
  local name=$1; shift
  "$PY" -m "$@" >>"$LOGS/$name.log" 2>&1 &
  pids+=($!)
  echo "  started $name (pid $!), log: .stack/logs/$name.log"
}
stop() {
  echo; echo "stopping services (SIGTERM: each drains its batch and commits)"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  exit 0
}
trap stop INT TERM

cd "$ROOT"
start sensor-consumer sensor_consumer
start event-consumer event_consumer
start embedder embedder
start graph-writer graph_writer
start aggregator aggregator
start recsys-api recsys_api
start lake-writer lake_writer
start orchestrator-metrics orchestrator serve-metrics
start dashboard dashboard
start shop-catalog shop_api catalog
start shop-relay shop_api relay
start shop-api shop_api serve
start producer producer run --rate "$RATE"

PG="postgresql://$POSTGRES_USER:$POSTGRES_PASSWORD@127.0.0.1:$POSTGRES_PORT/$POSTGRES_DB"
rate='sum by (service, topic) (rate(polystream_records_written_total[1m]))'
cat <<TXT

polystream is running. Where to look:
  Prometheus          http://127.0.0.1:$PROMETHEUS_PORT/graph?g0.expr=$(printf %s "$rate" | "$PY" -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.stdin.read()))')
  targets             http://127.0.0.1:$PROMETHEUS_PORT/targets
  metrics             http://127.0.0.1:$LAKE_WRITER_METRICS_PORT/metrics  http://127.0.0.1:$ORCHESTRATOR_METRICS_PORT/metrics  http://127.0.0.1:$SHOP_API_PORT/metrics
                      http://127.0.0.1:$PRODUCER_METRICS_PORT/metrics  http://127.0.0.1:$SENSOR_CONSUMER_METRICS_PORT/metrics  http://127.0.0.1:$EVENT_CONSUMER_METRICS_PORT/metrics
                      http://127.0.0.1:$EMBEDDER_METRICS_PORT/metrics  http://127.0.0.1:$GRAPH_WRITER_METRICS_PORT/metrics  http://127.0.0.1:$AGGREGATOR_METRICS_PORT/metrics
  PostgreSQL          psql "$PG" -c 'SELECT count(*), max(event_time) FROM sensor_readings'
  MongoDB             mongodb://127.0.0.1:$MONGO_PORT  (collections user_events, chat_messages, products)
  sensor analytics    .venv/bin/python -m sensor_consumer analytics stats
  behaviour analytics .venv/bin/python -m event_consumer analytics funnel --by campaign
  a load test         .venv/bin/python -m producer load --count 200000 --rate 0
  Milvus              http://127.0.0.1:$MILVUS_PORT  (collections products, chat_messages, user_profiles)
  semantic search     .venv/bin/python -m embedder search "running shoes" --limit 5
  similar products    .venv/bin/python -m embedder similar-products prod-00042
  similar users       .venv/bin/python -m embedder similar-users user-00042
  engagement scores   psql "$PG" -c 'SELECT entity_type, entity_id, score, as_of FROM engagement_scores ORDER BY score DESC LIMIT 10'
  sensor rollups      psql "$PG" -c 'SELECT * FROM sensor_rollups ORDER BY window_start DESC LIMIT 10'
  Neo4j               bolt://127.0.0.1:$NEO4J_BOLT_PORT  (user $NEO4J_USER)
  graph queries       .venv/bin/python -m graph_writer interactions user-00042 user-00043
  similar campaigns   .venv/bin/python -m graph_writer campaigns-of-similar-users user-00042 --limit 5
  delete a product    .venv/bin/python -m producer delete-product prod-00001   (a tombstone: gone from MongoDB, Milvus and Neo4j)
  recsys-api          http://127.0.0.1:$RECSYS_API_PORT/docs  (OpenAPI; readiness: /readyz)
  search over HTTP    curl -s 'http://127.0.0.1:$RECSYS_API_PORT/products/search?q=running+shoes&k=5'
  Parquet lake        .stack/lake  (stream=<stream>/date=<day>/; .venv/bin/python -m lake_writer compact)
  build the warehouse make warehouse   (Dagster: compaction, dbt build with its tests, freshness checks)
  nightly + Dagster UI make dagster    (the daemon runs the 02:00 UTC schedule; UI http://127.0.0.1:$DAGSTER_WEBSERVER_PORT)
  dashboard           http://127.0.0.1:$DASHBOARD_PORT  (the marts; shows a note until the first build)
  shop-api            http://127.0.0.1:$SHOP_API_PORT/docs
  place an order      curl -s -X POST http://127.0.0.1:$SHOP_API_PORT/orders -H 'Content-Type: application/json' \\
                        -H "Idempotency-Key: \$(python3 -c 'import uuid; print(uuid.uuid4())')" \\
                        -d '{"customer_id": "user-00001", "items": [{"product_id": "prod-00001", "quantity": 1}]}'
Ctrl-C stops the services; 'make stack-down' stops the stack.

TXT
# A user who exists once the first events are written: wait for their recommendations, then say
# how to ask for them.
api="http://127.0.0.1:$RECSYS_API_PORT"
user=user-00042
for _ in $(seq 90); do
  curl -fsS -o /dev/null "$api/recommendations/$user?k=3" 2>/dev/null && break
  sleep 2
done
if curl -fsS -o /dev/null "$api/recommendations/$user?k=3" 2>/dev/null; then
  echo "recommendations     curl -s '$api/recommendations/$user?k=5'"
  curl -fsS "$api/recommendations/$user?k=3" | "$PY" -c 'import json, sys
body = json.load(sys.stdin)
print("  e.g.", body["strategy"], [(i["kind"], i["id"], i["score"], i["reason"]) for i in body["items"]])'
else
  echo "recsys-api does not answer yet for $user: see .stack/logs/recsys-api.log" >&2
fi
echo

metric_sum() {  # port, metric: the sum of its samples, or ? while the service is not serving
  local page
  page=$(curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null) || { echo '?'; return; }
  awk -v name="$2" '$1 ~ "^"name {n += $2} END {printf "%d", n}' <<<"$page"
}
while sleep 10; do
  rows=$(psql -tA "$PG" -c 'SELECT count(*) FROM sensor_readings' 2>/dev/null || echo '?')
  docs=$(metric_sum "$EVENT_CONSUMER_METRICS_PORT" polystream_records_written_total)
  vectors=$(metric_sum "$EMBEDDER_METRICS_PORT" polystream_sentences_encoded_total)
  echo "$(date +%T)  sensor_readings in PostgreSQL: $rows   documents written to MongoDB: $docs   texts embedded: $vectors"
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "a service exited; see .stack/logs/" >&2; stop; }
  done
done
