"""tests/deploy: offline validation of compose, k8s, dashboards and alert rules (in `make test`),
and the compose stream on a real Docker engine (test_compose_engine.py), which only
deploy/compose/test-compose.sh runs (`make test-compose`, after it has brought the stream up): a
plain `pytest tests` does not collect it at all, rather than skip it."""

from __future__ import annotations

import os

collect_ignore = (
    [] if os.environ.get("POLYSTREAM_COMPOSE_ENGINE") == "1" else ["test_compose_engine.py"]
)
