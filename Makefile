# The two commands of the README: `make run` and `make test` (docs/contract.md).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY ?= $(VENV)/bin/python
PORT ?= 8000
WEB_CONCURRENCY ?= 2
PIP := $(VENV)/bin/python -m pip --disable-pip-version-check -q
PYTEST_ARGS ?=

.PHONY: run test lint serve serve-realtime migrate bench clean

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

# Production: no reload, no migrations (run `manage.py migrate` as a release step).
serve:
	$(PY) -m gunicorn askproai.wsgi:application --bind 127.0.0.1:$(PORT) \
		--workers $(WEB_CONCURRENCY) --access-logfile - --timeout 60

# Production, the ASGI front doors (WebSocket /ws/v2/events): behind the same proxy as `serve`.
serve-realtime:
	$(PY) -m uvicorn askproai.asgi:application --host 127.0.0.1 --port $(PORT) \
		--workers $(WEB_CONCURRENCY) --ws websockets-sansio --proxy-headers --no-server-header

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
