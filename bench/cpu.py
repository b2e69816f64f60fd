"""CPU time spent by the processes behind a benchmark, read from /proc (Linux).

Throughput on a shared two-core machine swings with whatever else runs; the CPU seconds the
server, the database and the client spent per operation do not, so the benchmarks print both.
`CpuMeter` sums user+system time of the processes whose command line contains each marker
(e.g. the gunicorn bind address, the benchmark database's name in PostgreSQL's process titles)
and of this process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _matching(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            pids.append(int(entry.name))
    return pids


class CpuMeter:
    """`start()`, run the load, `stop()` → CPU seconds per group (and `client`: this process).

    Processes that start during the measurement count from zero; ones that end are lost, so
    measure against long-lived servers and connections."""

    def __init__(self, **markers: str) -> None:
        self.markers = markers
        self._before: dict[str, dict[int, float]] = {}
        self._client = 0.0
        self._wall = 0.0

    def _snapshot(self) -> dict[str, dict[int, float]]:
        snapshot: dict[str, dict[int, float]] = {}
        for group, marker in self.markers.items():
            snapshot[group] = {}
            for pid in _matching(marker):
                try:
                    snapshot[group][pid] = _cpu_seconds(pid)
                except OSError:
                    continue
        return snapshot

    def start(self) -> None:
        self._before = self._snapshot()
        self._client = time.process_time()
        self._wall = time.perf_counter()

    def stop(self) -> dict[str, float]:
        after = self._snapshot()
        spent = {
            group: sum(
                seconds - self._before.get(group, {}).get(pid, 0.0)
                for pid, seconds in after[group].items()
            )
            for group in self.markers
        }
        spent["client"] = time.process_time() - self._client
        spent["wall"] = time.perf_counter() - self._wall
        return spent
