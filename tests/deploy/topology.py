"""Start `make up` (the Procfile's processes under honcho) and stop it as Ctrl-C would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.serving import ROOT, free_port


@dataclass
class Topology:
    base: str
    realtime: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        """Ctrl-C: SIGINT to the whole process group; honcho then sends SIGTERM to each."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=timeout)


def _port_pair() -> int:
    """A free port whose +100 (honcho's port for the Procfile's second process, realtime) is
    free as well."""
    while True:
        port = free_port()
        with socket.socket() as probe:
            if port + 100 < 65536 and probe.connect_ex(("127.0.0.1", port + 100)) != 0:
                return port


def _wait_until_live(topology: Topology, base: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(f"{base}/livez", timeout=2):  # noqa: S310
                return
        except OSError:
            if topology.process.poll() is not None or time.monotonic() > deadline:
                output = topology.output()[-3000:]
                raise RuntimeError(f"make up did not serve {base}: {output}") from None
            time.sleep(0.3)


@contextmanager
def make_up(env: dict[str, str], run_dir: Path) -> Iterator[Topology]:
    port = _port_pair()
    full_env = {
        **os.environ,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "WORKER_CONCURRENCY": "1",
        "REALTIME_CONCURRENCY": "1",
        "WEB_METRICS_DIR": str(run_dir / "metrics"),
        "BEAT_SCHEDULE_FILE": str(run_dir / "celerybeat-schedule"),
        **env,
    }
    log = tempfile.TemporaryFile()  # noqa: SIM115 — closed below
    process = subprocess.Popen(  # noqa: S603 — our own Makefile
        ["make", "--no-print-directory", "up", f"PORT={port}"],  # noqa: S607 — make from PATH
        cwd=ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    topology = Topology(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 100}", process, log)
    try:
        deadline = time.monotonic() + 90
        _wait_until_live(topology, topology.base, deadline)
        _wait_until_live(topology, topology.realtime, deadline)
        yield topology
    finally:
        try:
            topology.stop()
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        print(topology.output()[-5000:])  # shown by pytest when the test fails
        log.close()
