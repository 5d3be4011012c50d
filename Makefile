# The README quick start: `make run` and `make test` each work from a clean clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= data

.PHONY: run test lint bench bench-micro clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The main job on the embedded default: SQLite under ./data, the API on 127.0.0.1:8080, and ten
# simulated stations charging so there is live data at once (DEMO=0 for none).
DEMO ?= 10
run: $(STAMP)
	$(BIN)/chargeward serve --data-dir $(DATA_DIR) --demo $(DEMO)

lint: $(STAMP)
	$(BIN)/ruff check core actors adapters projections bench tests
	$(BIN)/ruff format --check core actors adapters projections bench tests
	$(BIN)/mypy core actors adapters projections

# Three test workers: most of the suite's wall time is spent waiting on real servers, peers and
# timeouts, not on the CPU, so three workers on two cores cut it by about a third (TEST_WORKERS=0 for
# one process, as when reading a failure).
TEST_WORKERS ?= 3
test: lint
	@bash deploy/install-prometheus.sh || echo "make test: Prometheus missing; its tests will be skipped (see above)"
	@bash .ci/install-faketime.sh || echo "make test: libfaketime missing; the simulated-clock test will be skipped (see above)"
	$(BIN)/pytest -n $(TEST_WORKERS)

bench: $(STAMP)
	$(BIN)/chargeward bench --suite standard

bench-micro: $(STAMP)
	$(BIN)/python -m bench.micro

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .mypy_cache .ruff_cache .hypothesis
