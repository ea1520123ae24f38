#!/usr/bin/env bash
# Scratch venvs for the stream-library comparison (cached under .cache/, git-ignored).
# faust-streaming gets its own venv; Quix Streams is read from the workspace venv (.venv has
# quixstreams 3.28.1), used read-only. Re-running is a no-op once the venv is there.
set -euo pipefail
cd "$(dirname "$0")/../.."
UV=.cache/tools/bin/uv
FAUST_VENV=.cache/bench-faust
if ! "$FAUST_VENV/bin/python" -c 'import faust, aiokafka, confluent_kafka, lz4; assert faust.__version__ == "0.15.3"' 2>/dev/null; then
  [ -x "$FAUST_VENV/bin/python" ] || "$UV" venv -p python3.11 "$FAUST_VENV"
  # lz4: the producer compresses with lz4, aiokafka needs it to read. confluent-kafka only for the harness's admin/readback helpers run inside this venv
  VIRTUAL_ENV="$FAUST_VENV" "$UV" pip install faust-streaming==0.15.3 "aiokafka[lz4]==0.14.0" confluent-kafka==2.12.2
fi
.venv/bin/python -c 'import quixstreams; assert quixstreams.__version__ == "3.28.1", quixstreams.__version__'
"$FAUST_VENV/bin/python" -c 'import faust, aiokafka; print("faust", faust.__version__, "aiokafka", aiokafka.__version__)'
.venv/bin/python -c 'import quixstreams; print("quixstreams", quixstreams.__version__)'
