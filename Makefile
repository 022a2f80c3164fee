# urbasig — the two commands: `make run` and `make test` (see README.md).
SHELL := /bin/bash
-include .env
export
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= $(or $(URBASIG_PORT),5000)
WORKERS ?= $(or $(URBASIG_WORKERS),2)
# Threads per worker: a map's first view asks ~40 tiles at once; the request budget's watchdog is per thread.
THREADS ?= $(or $(URBASIG_THREADS),4)
# gunicorn stops a worker after this; every request's time budget (URBASIG_BUDGET_*_S) ends before it.
WORKER_TIMEOUT ?= $(or $(URBASIG_WORKER_TIMEOUT_S),30)
# Seconds between two rounds of the outbox delivery that `make run` starts beside the server.
MAIL_EVERY ?= 5
# Links, e-mails and the session Origin check name the public address: by default the one `make run` serves.
URBASIG_PUBLIC_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run serve test stop setup sysdeps venv assets db lint unit bench clean-db screenshots

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

venv: $(BIN)/.installed

# The browser libraries (MapLibre GL JS, fonts) exactly as package-lock.json pins them, from the npm registry.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

assets: node_modules/.installed

sysdeps:
	@./scripts/system-deps.sh

setup: sysdeps venv assets

# Start (or reuse) the database, migrate, load the sample territory on first start only.
db: setup
	$(BIN)/urbasig db start
	$(BIN)/urbasig db upgrade
	$(BIN)/urbasig sample-data --if-empty
	@if [ "$${URBASIG_ENV:-development}" = development ]; then $(BIN)/urbasig demo-accounts; fi

run: db
	@$(MAKE) --no-print-directory serve

# The server and, beside it, the outbox delivery (`urbasig mail-deliver --loop`) and the job runner (`urbasig jobs
# work --loop`), started and stopped together: Ctrl-C (or a TERM or HUP to this shell) stops all three, and if
# gunicorn ends on its own the other two end with it (a job running then goes back to the queue).
# gunicorn runs in its own session (setsid): Ctrl-C reaches it only as the trap's one TERM, a graceful stop; the
# terminal's SIGINT on the workers as well as the master's SIGQUIT would re-enter gthread's quit handler, which
# then deadlocks on its thread pool's lock until the master kills the worker 30 s later.
# No set-up here: `make run` does it first; tests/test_dev_mode.py runs this very recipe on a test database.
serve:
	@echo "urbasig : $(URBASIG_PUBLIC_URL)/"
	@trap 'kill -TERM $$web $$mail $$jobs 2>/dev/null; wait $$web $$mail $$jobs; exit 0' INT TERM HUP; \
	trap 'kill -TERM $$mail $$jobs 2>/dev/null' EXIT; \
	$(BIN)/urbasig mail-deliver --loop $(MAIL_EVERY) & mail=$$!; \
	$(BIN)/urbasig jobs work --loop & jobs=$$!; \
	setsid $(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers $(WORKERS) --worker-class gthread --threads $(THREADS) --timeout $(WORKER_TIMEOUT) --access-logfile - \
	  --access-logformat '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s' 'app:create_app()' & web=$$!; \
	wait $$web

# Gates first (seconds), then the database suite (minutes): a lint or unit failure stops here. The suite runs in
# URBASIG_TEST_WORKERS processes (pytest-xdist, 2 by default, 0 for one process), each with its own cluster.
# Without the pytest plugins of hypothesis and schemathesis: the database suite has no property test and runs
# schemathesis as a command; each of them imported hypothesis whole (~2 s of CPU in every process).
SUITE_PLUGINS := -p no:hypothesispytest -p no:schemathesis
test: setup
	@$(MAKE) --no-print-directory lint unit
	$(BIN)/python -m pytest --ignore=tests/unit $(SUITE_PLUGINS) -n $${URBASIG_TEST_WORKERS:-2} $(PYTEST_ARGS)

stop:
	@if [ -x $(BIN)/urbasig ]; then $(BIN)/urbasig db stop; fi

# Style, docstrings (D1) and complexity (C90, PLR0912/0915) with ruff; types with mypy (settings: pyproject.toml).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

# The pure parts, without PostgreSQL (tests/unit/conftest.py refuses any connection).
unit: venv
	$(BIN)/python -m pytest tests/unit -q -p no:cacheprovider

# The screenshots of docs/ from the browser tests (a plain test run writes them to a temporary folder).
screenshots: setup
	URBASIG_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser -q

# From the checkout's root, like every target: var/ (the embedded cluster) is relative to the working directory.
bench: db
	$(BIN)/python bench/generation.py
	$(BIN)/python bench/import_throughput.py
	$(BIN)/python bench/instruction.py
	$(BIN)/python bench/ogc.py
	$(BIN)/python bench/http_cache.py
	$(BIN)/python bench/notes.py
	$(BIN)/python bench/hostile.py
	$(BIN)/python bench/audit_chain.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/jobs.py
	$(BIN)/python bench/envelope.py
	$(BIN)/python bench/impact.py
	$(BIN)/python bench/replicas.py

clean-db: stop
	rm -rf var/pg
