# Two commands on a fresh machine with Python 3.11+: `make demo` and `make test`.
# Each bootstraps .venv from pyproject.toml; nothing else needs installing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.local/dagster
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Range runs write one Dagster event per partition and asset: batch them (orchestration/dagster_instance.py).
export DAGSTER_EVENT_BATCH_SIZE ?= 1000
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= 1

.PHONY: demo test ui dbt docs lint clean bench instance soak manifest

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + "); set PYTHON=...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The Dagster instance: telemetry off (no run-time network access), runs and events stored in
# PostgreSQL on the embedded warehouse server, which this starts if it is not running; run
# monitoring on and concurrency pools limited to one step each (docs/operations.md). An existing
# $(DAGSTER_HOME)/dagster.yaml is left as it is.
instance: $(STAMP)
	$(BIN)/python -m orchestration.dagster_instance

# dbt's manifest, which the Dagster definitions are built from: parsed when missing or older than a
# dbt project file (orchestration/dbt_project.py; loading the definitions never parses). The CLI and
# the test session do the same when they start.
manifest: $(STAMP)
	$(BIN)/python -m orchestration.dbt_project

# Starts the UI first (watch the runs at http://127.0.0.1:3000) and keeps it running after the demo,
# until Ctrl-C; `make demo DEMO_ARGS=` runs the demo alone and exits (README, "The demo").
DEMO_ARGS ?= --ui
demo: $(STAMP) instance
	$(BIN)/usage-analytics demo $(DEMO_ARGS)

# Two workers, one test module each at a time (modules share a simulated warehouse per worker), in
# collection order: tests/conftest.py puts the longest modules first (docs/testing.md).
test: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=15

ui: $(STAMP) instance manifest
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Run dbt by hand against the configured warehouse, e.g. `make dbt ARGS="ls"`.
dbt: $(STAMP)
	$(BIN)/python -m orchestration.dbt_shell $(ARGS)

# dbt's documentation site (models, columns, lineage) into dbt_project/target/.
docs: $(STAMP)
	$(BIN)/python -m orchestration.dbt_shell docs generate
	@echo "Serve it with: make dbt ARGS='docs serve --port 8080'"

lint: $(STAMP)
	$(BIN)/ruff check .

# The benchmark (issue 6), on its own database BENCH_DATABASE (default uap_bench): SCALE=full writes
# BENCHMARKS.md and bench/results.json; SCALE=small (the CI smoke test) or medium write to bench/work/.
# ONLY=demo measures the demo's stages (and at full scale the install) alone, keeping the other figures.
SCALE ?= full
ONLY ?=
bench: $(STAMP) manifest
	$(BIN)/python -m bench.run --scale $(SCALE) $(if $(ONLY),--only $(ONLY))

# The simulated-clock soak (issue 12, docs/soak.md) on its own databases (SOAK_DATABASE, default uap_soak):
# DAYS simulated days hour by hour with faults; log and summary.json in .local/soak/.
DAYS ?= 35
soak: $(STAMP) manifest
	$(BIN)/python -m soak.run --days $(DAYS)

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs
