# polystream: `make run` runs the whole stream locally, `make test` proves it. `make help` lists all.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.SHELLFLAGS := -eu -o pipefail -c

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
TOOLS := .cache/tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
PY := .venv/bin/python
SRC := $(wildcard libs/*/src) $(wildcard services/*/src)

.PHONY: help install run test test-unit test-integration test-e2e test-compose lint typecheck bench \
        stack-up stack-down stack-status stack-reset browser warehouse dagster dashboard clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q 'uv==0.13.9'

.venv/.synced: uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml) | $(UV)
	$(UV) sync --locked --all-packages
	@touch $@

# The embedding model's ONNX export (python -m polystream_embeddings.export): the default CPU
# backend runs this folder. Redone when the virtualenv is, and then skipped in a second unless the
# packaged model changed (the stamp holds its SHA-256). About 20 s the first time.
EMBEDDING_MODEL_DIR := .cache/models/all-MiniLM-L6-v2
$(EMBEDDING_MODEL_DIR)/.exported: .venv/.synced
	$(PY) -m polystream_embeddings.export --out $(EMBEDDING_MODEL_DIR)

install: .venv/.synced $(EMBEDDING_MODEL_DIR)/.exported ## Create the virtualenv from uv.lock and export the embedding model (cached)

stack-up: install ## Install (cached) and start the local stack of real servers; waits until ready
	bash deploy/local/stack.sh up

stack-down: ## Stop every process the local stack started
	bash deploy/local/stack.sh down

stack-status: ## Show each local-stack process and whether it is ready
	bash deploy/local/stack.sh status

stack-reset: ## Stop the stack and wipe its data (jars and builds stay cached)
	bash deploy/local/stack.sh reset

run: install stack-up ## Run the stack, every service and a load producer; prints where to look
	bash deploy/local/run-services.sh

# The analytics side on the local stack's lake (.stack/lake, filled by `make run`'s lake-writer).
DAGSTER_ENV := DAGSTER_HOME=$(CURDIR)/.stack/dagster ORCHESTRATOR_LAKE__URI=$(CURDIR)/.stack/lake \
	ORCHESTRATOR_WAREHOUSE_PATH=$(CURDIR)/.stack/warehouse/polystream.duckdb
DAGSTER_PORT := $(shell sed -n 's/^DAGSTER_WEBSERVER_PORT=//p' deploy/local/stack.env)

warehouse: install ## Compact the local lake and build the warehouse now (Dagster: compaction, dbt build, freshness)
	@mkdir -p .stack/dagster
	$(DAGSTER_ENV) $(PY) -m orchestrator build

dagster: install ## Dagster's daemon (the nightly schedule) and its UI (stack.env DAGSTER_WEBSERVER_PORT), over the local lake
	@mkdir -p .stack/dagster
	$(DAGSTER_ENV) .venv/bin/dagster-daemon run -m orchestrator.definitions & \
	daemon=$$!; trap 'kill $$daemon' EXIT; $(DAGSTER_ENV) .venv/bin/dagster-webserver -m orchestrator.definitions -h 127.0.0.1 -p $(DAGSTER_PORT)

dashboard: install ## The business dashboard over the local warehouse (Streamlit, port 8501)
	$(PY) -m dashboard

lint: install ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: install ## mypy (strict) on libs/ and services/
	$(PY) -m mypy $(SRC)

test-unit: install ## Unit tests: no network
	$(PY) -m pytest tests/unit

test-integration: install stack-up ## Integration tests against the real local stack
	$(PY) -m pytest tests/integration

test-e2e: install stack-up browser ## End-to-end tests: services as processes against the real stack
	$(PY) -m pytest tests/e2e

browser: ## Debian's chromium for the dashboard's browser test (apt, once)
	bash deploy/local/install-browser.sh

test: lint typecheck stack-up browser ## Everything: lint, typecheck, unit, integration and e2e tests
	$(PY) -m pytest tests

# deploy/compose on a real Docker engine (started by hand, images built offline, cached under
# .cache/docker and .cache/compose): a known load, exact counts in every store, Prometheus up.
test-compose: install ## The compose stream on a real Docker engine (deploy/compose/test-compose.sh)
	bash deploy/compose/test-compose.sh

bench: install stack-up ## Benchmarks against same-run ceilings; results in bench/results/
	$(PY) bench/run.py

clean: ## Remove the virtualenv and caches of Python tools (keeps the stack's downloads)
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
