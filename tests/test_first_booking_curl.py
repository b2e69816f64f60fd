"""`make run` prints (through `seed_demo`) the demo's service ids and a curl that books a first
appointment; pasted as printed, it books, and pasted again it answers the same booking."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serving import ROOT, free_port, gunicorn


@pytest.mark.skipif(shutil.which("curl") is None, reason="the printed command is curl")
def test_the_printed_curl_books_once(tmp_path: Path):
    database_url = f"sqlite:///{tmp_path / 'run.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("REDIS_URL", None)

    def manage(*args: str) -> str:
        return subprocess.run(  # noqa: S603 — our own interpreter and manage.py
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    manage("migrate", "--noinput", "-v", "0")
    port = free_port()
    printed = manage("seed_demo", "--port", str(port))
    assert "  Service 2: Herrenhaarschnitt (30 min)" in printed.splitlines()
    curl = printed.strip().splitlines()[-1]
    assert curl.startswith(f"curl -s -X POST http://127.0.0.1:{port}/api/v2/mcp/bookings ")
    with gunicorn(workers=1, database_url=database_url, port=port):
        first = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, check=True)  # noqa: S603, S607
        again = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, check=True)  # noqa: S603, S607
    booked = json.loads(first.stdout)
    assert booked["appointment"]["status"] == "confirmed"
    assert booked["appointment"]["service_id"] == 2
    assert booked["appointment"]["start_time"][10:19] == "T15:00:00"
    assert json.loads(again.stdout)["appointment"]["id"] == booked["appointment"]["id"]
