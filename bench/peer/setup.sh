#!/usr/bin/env bash
# The peer's own virtual environment, bench/peer/.venv, apart from the project's: django-appointment
# pins its own Django and friends (requirements.txt), which must not mix with ours. Idempotent; a
# requirements.txt newer than the last install installs again. PYTHON picks the interpreter
# (default python3.11, else python3).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ requirements.txt -nt .venv/.installed ]; then
  .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
  touch .venv/.installed
fi
.venv/bin/python -c 'import importlib.metadata as m; print("peer venv ready: django-appointment", m.version("django-appointment"))' >&2
