#!/usr/bin/env bash
# The whole comparison: venvs, input topics, throughput (3 interleaved runs each), repeated
# SIGKILL, results.json, then the topics and consumer groups are deleted.
# Env: COUNT (default 200000), KILL_COUNT (default 20000), CAP_S (faust/quix per-run cap, 180).
set -euo pipefail
cd "$(dirname "$0")/../.."
bench/stream_libs/setup.sh
PY=.venv/bin/python
H=bench/stream_libs/harness.py
COUNT=${COUNT:-200000}; KILL_COUNT=${KILL_COUNT:-20000}; CAP_S=${CAP_S:-180}
TP=choice-$($PY -c 'import uuid; print(uuid.uuid4().hex[:8])').
KP=choice-$($PY -c 'import uuid; print(uuid.uuid4().hex[:8])').
trap '$PY $H cleanup --prefix $TP; $PY $H cleanup --prefix $KP' EXIT
OUT=${BENCH_WORK:-/tmp/stream_libs_bench}; mkdir -p "$OUT"
$PY $H produce --prefix "$TP" --count "$COUNT"
$PY $H produce --prefix "$KP" --count "$KILL_COUNT"
$PY $H throughput --prefix "$TP" --count "$COUNT" --runs 3 --cap-s "$CAP_S" > "$OUT/throughput.json"
$PY $H sigkill --prefix "$TP" --count "$COUNT" --libs quix --kills 3 --seed 10 > "$OUT/sigkill_quix.json"
$PY $H sigkill --prefix "$KP" --count "$KILL_COUNT" --libs faust --kills 3 --seed 10 > "$OUT/sigkill_faust.json"
# control: the same faust app on the same 20k input, never killed
$PY $H sigkill --prefix "$KP" --count "$KILL_COUNT" --libs faust --kills 0 --seed 0 > "$OUT/control_faust.json"
$PY $H combine --control "$OUT/control_faust.json" --count "$COUNT" --prefix "$TP" --throughput "$OUT/throughput.json" \
  --sigkill "$OUT/sigkill_quix.json,$OUT/sigkill_faust.json" --commands "COUNT=$COUNT KILL_COUNT=$KILL_COUNT CAP_S=$CAP_S bench/stream_libs/run.sh"
