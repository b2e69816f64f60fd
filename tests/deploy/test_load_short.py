"""The load suite's short run (bench/load/run.py): the locust mix against gunicorn for a few
seconds; every request answered with a status its kind accepts, no 5xx. Its figures are printed
(shown with -s or on failure), never asserted: timing belongs to the benchmark."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.serving import ROOT


def test_the_short_load_run_answers_every_request_without_a_server_error():
    run = subprocess.run(
        [sys.executable, "-m", "bench.load.run", "--seconds", "10", "--users", "6"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(run.stdout)
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    summary = next((line for line in lines if line["op"] == "load_summary"), None)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert summary is not None
    assert summary["server_errors"] == 0
    assert summary["rate_limited_429"] == 0
    kinds = {line["op"] for line in lines}
    assert {"availability", "api_booking", "phone_booking", "report_bookings"} <= kinds
    assert summary["requests"] == sum(line["n"] for line in lines if "p95_ms" in line)
