"""The README's five-minute tour, run as written: its shell blocks, in order, in one bash
session against a live server (gunicorn on a database of its own, the demo loaded as
`make run` loads it). Only the address differs: the tour's port 8000 becomes a free one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serving import ROOT, gunicorn

MARK = "=== readme block ==="


def tour_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    tour = readme.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    tour = tour.split("### Connecting an MCP client", 1)[0]
    return re.findall(r"```bash\n(.*?)```", tour, flags=re.DOTALL)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the tour uses curl")
def test_the_readme_tour_runs_as_written(tmp_path: Path):
    blocks = tour_blocks()
    assert len(blocks) == 6
    database_url = f"sqlite:///{tmp_path / 'tour.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("REDIS_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    with gunicorn(workers=1, database_url=database_url) as base:
        script = f"\necho '{MARK}'\n".join(
            block.replace("http://127.0.0.1:8000", base) for block in blocks
        )
        # The tour's `.venv/bin/python` is this interpreter's environment.
        venv = Path(sys.executable).parent.parent
        script = script.replace(".venv/bin/python", str(venv / "bin" / "python"))
        run = subprocess.run(  # noqa: S603 — bash running the README's own commands
            ["bash", "-euo", "pipefail", "-c", script],  # noqa: S607
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr
    outputs = [part.strip() for part in run.stdout.split(MARK)]
    setup, catalogue, slots, booking, listing, mcp = outputs
    assert setup == ""
    services = {s["name"]: s for s in json.loads(catalogue)["services"]}
    assert (services["Herrenhaarschnitt"]["id"], services["Herrenhaarschnitt"]["duration"]) == (
        2,
        30,
    )
    free = json.loads(slots)
    assert free["available"] is True
    assert {slot["branch_id"] for slot in free["slots"]} == {1}
    booked = json.loads(booking)
    assert booked["appointment"]["status"] == "confirmed"
    assert booked["appointment"]["start_time"][10:19] == "T10:00:00"
    assert (booked["appointment"]["service_id"], booked["appointment"]["branch_id"]) == (2, 1)
    assert booked["notifications_sent"] == ["sms"]
    day = json.loads(listing)
    assert booked["appointment"]["id"] in [b["id"] for b in day["bookings"]]
    assert (day["count"], day["page"], day["next_page"]) == (len(day["bookings"]), 1, None)
    result = json.loads(mcp)["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["appointment"]["start_time"][10:19] == "T10:30:00"
