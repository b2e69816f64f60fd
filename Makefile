# The two commands of the README: `make run` and `make test` (docs/contract.md).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY ?= $(VENV)/bin/python
PORT ?= 8000
WEB_CONCURRENCY ?= 2
PIP := $(VENV)/bin/python -m pip --disable-pip-version-check -q
PYTEST_ARGS ?=

.PHONY: run test lint serve serve-realtime up migrate bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[test]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-lint: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[test,lint]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed

run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --port $(PORT)
	@echo "Serving on http://127.0.0.1:$(PORT)  (admin /admin/, API docs /api/docs/, MCP /mcp, live events ws://127.0.0.1:$(PORT)/ws/v2/events)"
	$(PY) -m uvicorn askproai.asgi:application --host 127.0.0.1 --port $(PORT) --reload \
		--ws websockets-sansio

test: $(VENV)/.installed-test
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

# Production: no reload, no migrations (run `manage.py migrate` as a release step). The request
# line's length is left to the app (MAX_REQUEST_LINE, a 414 in the envelope), not gunicorn's HTML.
serve:
	$(PY) -m gunicorn askproai.wsgi:application -c python:askproai.gunicorn_conf \
		--bind 127.0.0.1:$(PORT) --workers $(WEB_CONCURRENCY) --access-logfile - --timeout 60 \
		--limit-request-line 0

# The whole topology of the Procfile on this machine (web, realtime, worker, beat — one beat,
# ever): PostgreSQL, Redis and RabbitMQ from the environment, defaulting to the local ones. web
# listens on PORT, realtime on PORT + 100 (honcho's step per process type). Ctrl-C (or any
# process exiting) stops all of them gracefully with SIGTERM.
up: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/askproai
up: export REDIS_URL ?= redis://127.0.0.1:6379/0
up: export CELERY_BROKER_URL ?= amqp://guest:guest@127.0.0.1:5672//
up: export WEB_METRICS_DIR ?= $(CURDIR)/.run/metrics
up: export BEAT_SCHEDULE_FILE ?= $(CURDIR)/.run/celerybeat-schedule
up: export WORKER_CONCURRENCY ?= 2
up: export REALTIME_CONCURRENCY ?= 1
up: export PY := $(PY)
up: export WEB_CONCURRENCY := $(WEB_CONCURRENCY)
up: $(VENV)/.installed
	mkdir -p .run "$$WEB_METRICS_DIR"
	env -u PROMETHEUS_MULTIPROC_DIR $(PY) manage.py migrate --noinput
	env -u PROMETHEUS_MULTIPROC_DIR $(PY) -c "$$HONCHO_START" start -f Procfile -p $(PORT)

# honcho, with the wait between SIGTERM and SIGKILL (a fixed 5 s in honcho) raised to 40 s, the
# web pod's grace period: gunicorn lets requests finish for 25 s and a worker finishes its task.
export HONCHO_START := import sys, honcho.command, honcho.manager; \
	honcho.manager.KILL_WAIT = 40; sys.argv[0] = "honcho"; honcho.command.main()

# Production, the ASGI front doors (WebSocket /ws/v2/events and /graphql): behind the same proxy
# as `serve`, which sends /ws/ and GraphQL's WebSocket to it. The Procfile's `realtime` line.
serve-realtime:
	$(PY) -m uvicorn askproai.asgi:application --host 127.0.0.1 --port $(PORT) \
		--workers $(WEB_CONCURRENCY) --ws websockets-sansio --proxy-headers --no-server-header \
		--timeout-graceful-shutdown 20

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
