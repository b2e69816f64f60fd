"""The processes under a running topology, read from /proc (Linux): which are the forked
workers of a server, and which process holds a given TCP connection."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")


def _parent(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:  # gone meanwhile
        return None
    # The command name in parentheses may hold spaces; the parent's pid follows the state.
    return int(stat.rsplit(")", 1)[1].split()[1])


def _argv(pid: int) -> list[str]:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def python_module(pid: int) -> str | None:
    """The module a Python process runs (`python -m NAME`); None for anything else, such as
    the shell honcho starts each Procfile line with."""
    argv = _argv(pid)
    if "-m" not in argv[:-1]:
        return None
    return argv[argv.index("-m") + 1]


def descendants(pid: int) -> list[int]:
    parents = {
        int(entry.name): parent
        for entry in PROC.iterdir()
        if entry.name.isdigit() and (parent := _parent(int(entry.name))) is not None
    }
    found: list[int] = []
    frontier = {pid}
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found.extend(children)
        frontier = set(children)
    return found


def forked_workers(root: int, module: str) -> list[int]:
    """The processes under `root` running `module` whose parent runs it as well: gunicorn's
    workers under their master, the prefork pool under the Celery worker's main process."""
    return sorted(
        pid
        for pid in descendants(root)
        if python_module(pid) == module and python_module(_parent(pid) or 0) == module
    )


def _socket_inodes(local_port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (PROC / "net" / table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == local_port:
                    inodes.add(fields[9])
    return inodes


def connection_owner(local_port: int, candidates: Iterable[int]) -> int | None:
    """Which of `candidates` holds the TCP socket bound to 127.0.0.1:`local_port` (the client
    side of a connection); None when none does."""
    wanted = {f"socket:[{inode}]" for inode in _socket_inodes(local_port)}
    for pid in candidates:
        fds = PROC / str(pid) / "fd"
        with contextlib.suppress(OSError):
            for fd in fds.iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        return pid
    return None
