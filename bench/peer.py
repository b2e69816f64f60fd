"""Run the peer benchmark (django-appointment, ../shared/bench/peer_django_appointment) in the
same run as ours, installing it into /tmp/peervenv once, and pass its JSON lines through."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT.parent / "shared" / "bench" / "peer_django_appointment"
PEER_VENV = Path("/tmp/peervenv")  # noqa: S108 - a fixed, documented location for the peer


def run_peer(flags: list[str]) -> dict[str, dict[str, Any]]:
    """Run the peer's bench.py with `flags`; its output lines by op (printed as they come)."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        python3 = shutil.which("python3") or sys.executable
        subprocess.run([python3, "-m", "venv", str(PEER_VENV)], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [str(PEER_VENV / "bin/pip"), "install", "-q", "-r", str(PEER / "requirements.txt")],
            check=True,
        )
    run = subprocess.run(  # noqa: S603
        [str(python), str(PEER / "bench.py"), *flags],
        check=True,
        capture_output=True,
        text=True,
        cwd=PEER,
    )
    lines: dict[str, dict[str, Any]] = {}
    for line in run.stdout.splitlines():
        print(line, flush=True)
        if line.startswith("{"):
            entry = json.loads(line)
            lines[entry.get("op", "")] = entry
    return lines
