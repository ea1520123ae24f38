#!/bin/sh
# Milvus 2.3 ignores common.security.defaultRootPassword (2.4 added it): once the server is
# healthy, root's built-in password is changed to COMMON_SECURITY_DEFAULTROOTPASSWORD, as 2.4+
# sets it at first start; only then does /tmp/ready (the healthcheck's) appear.
set -eu
rm -f /tmp/ready
/opt/milvus/bin/python /opt/milvus/serve/serve.py /var/lib/milvus &
pid=$!
trap 'kill -TERM $pid' TERM INT
until curl -fsS http://127.0.0.1:9091/healthz 2>/dev/null | grep -q OK; do
  kill -0 "$pid" 2>/dev/null || exit 1
  sleep 1
done
/opt/milvus/bin/python - <<'PY'
import os
from pymilvus import MilvusClient
uri, new = "http://127.0.0.1:19530", os.environ.get("COMMON_SECURITY_DEFAULTROOTPASSWORD") or "Milvus"
try:
    MilvusClient(uri=uri, token=f"root:{new}").close()
except Exception:  # first start: the built-in password
    client = MilvusClient(uri=uri, token="root:Milvus")
    client.update_password("root", "Milvus", new)
    client.close()
PY
touch /tmp/ready
wait "$pid"
