# The two commands: `make run` serves on SQLite, `make test` lints and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080
HOST ?= 127.0.0.1
export METERLINE_DATABASE_URL ?= sqlite:///./meterline.db
PYTEST_ARGS ?=

.PHONY: run test lint install install-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,clickhouse]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The key lives in meterline.key (mode 0600, gitignored): the same key on every start, a new
# one only when the database no longer accepts it. `meterline keys list|create|revoke` for more.
run: install
	$(BIN)/meterline serve --host $(HOST) --port $(PORT) --log-level info --key-file meterline.key

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	@tmp=$$(mktemp -d); \
	  METERLINE_DATABASE_URL=sqlite:///$$tmp/check.db $(BIN)/alembic upgrade head && \
	  METERLINE_DATABASE_URL=sqlite:///$$tmp/check.db $(BIN)/alembic check; \
	  status=$$?; rm -rf $$tmp; exit $$status

test: lint
	METERLINE_TEST_CLICKHOUSE=$${METERLINE_TEST_CLICKHOUSE:-1} $(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# Every benchmark, each printing JSON lines. BENCH_EVENTS sizes the 10M-event ones (check,
# query); PG_URL adds the PostgreSQL runs (ingest_pg, and query on PostgreSQL).
BENCH_EVENTS ?= 10000000
PG_URL ?=
QUERY_STORES := sqlite,clickhouse
ifneq ($(PG_URL),)
QUERY_STORES := sqlite,postgresql,clickhouse
endif
bench: install-dev
	$(BIN)/python bench/ingest.py
	$(if $(PG_URL),$(BIN)/python bench/ingest.py --database-url $(PG_URL))
	$(BIN)/python bench/report.py
	$(BIN)/python bench/billing_run.py
	$(BIN)/python bench/check.py --events $(BENCH_EVENTS)
	$(BIN)/python bench/query.py --events $(BENCH_EVENTS) --stores $(QUERY_STORES) $(if $(PG_URL),--postgres-url $(PG_URL))

clean:
	rm -rf $(VENV) meterline.db meterline.db-wal meterline.db-shm
