"""The peer's benchmark scenario (django-appointment, bench/peer): its knobs, slot grid and
placement of existing appointments, shared by our benchmarks, and a runner that executes the peer
in the same run, with the python of its own virtual environment (bench/peer/.venv, made by
bench/peer/setup.sh on first use)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.database import add_database_arguments

PEER = Path(__file__).resolve().parent / "peer"


def run_peer(flags: list[str]) -> dict[str, dict[str, Any]]:
    """Run the peer's bench.py with `flags`; its output lines by op (printed as they come)."""
    # setup.sh is idempotent and quick once installed; it reinstalls when requirements.txt changed.
    subprocess.run([str(PEER / "setup.sh")], check=True)  # noqa: S603
    python = PEER / ".venv" / "bin" / "python"
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


def add_scenario_arguments(parser: argparse.ArgumentParser, *, default_db: str) -> None:
    """The peer's knobs, with its defaults."""
    parser.add_argument("--staff", "-S", type=int, default=20)
    parser.add_argument("--days", "-D", type=int, default=14, help="calendar days, weekends too")
    parser.add_argument("--appts-per-day", "-K", type=int, default=8)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--service-minutes", type=int, default=30)
    parser.add_argument("--slot-minutes", type=int, default=30)
    parser.add_argument("--open", default="09:00")
    parser.add_argument("--close", default="18:00")
    parser.add_argument("--start-date", default=None, help="default: the Monday two weeks ahead")
    add_database_arguments(parser, default_db)
    parser.add_argument("--with-peer", action="store_true", help="run the peer and compare")


def first_day(args: argparse.Namespace) -> dt.date:
    """--start-date, or the Monday two weeks from today (Berlin), as the peer picks it."""
    if args.start_date:
        return dt.date.fromisoformat(args.start_date)
    today = dt.datetime.now(ZoneInfo("Europe/Berlin")).date()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=14)


def peer_flags(args: argparse.Namespace, start: dt.date) -> list[str]:
    """The same scenario, in the peer's command-line flags."""
    return [
        "--staff", str(args.staff), "--days", str(args.days),
        "--appts-per-day", str(args.appts_per_day), "--customers", str(args.customers),
        "--service-minutes", str(args.service_minutes), "--slot-minutes", str(args.slot_minutes),
        "--open", args.open, "--close", args.close, "--start-date", start.isoformat(),
        "--db", args.db, "--pg-host", args.pg_host, "--pg-port", str(args.pg_port),
        "--pg-user", args.pg_user,
    ]  # fmt: skip


def hm(text: str) -> dt.time:
    hour, minute = text.split(":")
    return dt.time(int(hour), int(minute))


def slot_grid(args: argparse.Namespace) -> list[dt.time]:
    """The peer's slot grid: starts from --open while start + max(step, service) <= --close."""
    day = dt.date(2000, 1, 3)
    t, end = dt.datetime.combine(day, hm(args.open)), dt.datetime.combine(day, hm(args.close))
    step, longest = (dt.timedelta(minutes=m) for m in (args.slot_minutes, args.service_minutes))
    starts = []
    while t + max(step, longest) <= end:
        starts.append(t.time())
        t += step
    return starts


def taken_indices(staff_index: int, slots: int, k: int) -> list[int]:
    """Exactly the peer's placement of one staff member's K existing appointments: spread out
    over the day and staggered by staff."""
    k = min(k, slots)
    return sorted({(i * slots // k + staff_index) % slots for i in range(k)}) if k else []
