"""gunicorn's hooks for every way the web process runs (`make serve`, the Procfile, deploy/)."""

import os
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess

# SIGTERM lets running requests finish for this long before workers are killed; deploy/ gives
# the pod a longer terminationGracePeriodSeconds.
graceful_timeout = 25


def on_starting(server: Any) -> None:
    """Files left by an earlier server would be summed into this one's counters."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for leftover in Path(directory).glob("*.db"):
            leftover.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's live gauges (active connections, breaker states) stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
