"""Load run: the demo tenant in a database of its own, gunicorn, and the locust mix of
locustfile.py for --seconds with --users; one JSON line per request kind (count, statuses, p50,
p95 and p95 against the same run's `GET /livez`) and a summary. Exits 1 on any 5xx, on a status
outside a kind's accepted set and on a run that sent nothing.

    python -m bench.load.run --seconds 300 --users 50    # the long run (docs/benchmarks.md)
    python -m bench.load.run --seconds 10 --users 6      # the short run CI makes
"""

from __future__ import annotations

# locust patches the standard library with gevent; it must come first.
from locust.env import Environment  # isort: skip

import argparse
import collections
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import gevent

from bench.load.locustfile import ACCEPTED, Receptionist
from tests.serving import ROOT, gunicorn


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    return parser.parse_args()


def next_monday() -> str:
    today = dt.datetime.now(ZoneInfo("Europe/Berlin")).date()
    return str(today + dt.timedelta(days=7 - today.weekday()))


def main() -> int:
    args = parse_args()
    # The server runs on its own SQLite file with the embedded cache, whatever this shell has.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "askproai.settings")
    os.environ.pop("REDIS_URL", None)
    with tempfile.TemporaryDirectory() as directory:
        database_url = f"sqlite:///{Path(directory) / 'load.sqlite3'}"
        env = {**os.environ, "DATABASE_URL": database_url}
        env.pop("REDIS_URL", None)

        def manage(*command: str) -> str:
            return subprocess.run(  # noqa: S603 — our own manage.py
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout

        manage("migrate", "--noinput", "-v", "0")
        os.environ["ASKPROAI_API_KEY"] = json.loads(manage("seed_demo", "--json"))["api_key"]
        os.environ["ASKPROAI_DAY"] = next_monday()
        server_env = {
            # The demo plan's hourly budget would turn the run into a rate-limit test.
            "MCP_RATE_LIMIT_BASIC": "10000000",
            "MCP_RATE_LIMIT_PRO": "10000000",
            "MCP_RATE_LIMIT_ENTERPRISE": "10000000",
            "MCP_RATE_LIMIT_PHONE": "-1",
        }
        with gunicorn(args.workers, server_env, database_url=database_url) as base:
            statuses: dict[str, collections.Counter[int]] = collections.defaultdict(
                collections.Counter
            )
            environment = Environment(user_classes=[Receptionist], host=base)

            def count(name: str, response: Any, **_: Any) -> None:
                statuses[name][getattr(response, "status_code", 0)] += 1

            environment.events.request.add_listener(count)
            runner = environment.create_local_runner()
            runner.start(args.users, spawn_rate=args.users)
            gevent.sleep(args.seconds)
            runner.quit()
    return report(environment, statuses, args)


def report(
    environment: Environment, statuses: dict[str, collections.Counter[int]], args: Any
) -> int:
    baseline = environment.stats.get("baseline_livez", "GET").get_response_time_percentile(0.95)
    failed = False
    total = 0
    for (name, _method), entry in sorted(environment.stats.entries.items()):
        p95 = entry.get_response_time_percentile(0.95)
        seen = statuses[name]
        unexpected = {code: n for code, n in seen.items() if code not in ACCEPTED[name]}
        failed |= bool(unexpected)
        total += entry.num_requests
        line = {
            "op": name,
            "n": entry.num_requests,
            "statuses": {str(code): n for code, n in sorted(seen.items())},
            "p50_ms": entry.get_response_time_percentile(0.5),
            "p95_ms": p95,
            "p95_vs_baseline": round(p95 / baseline, 1) if baseline else None,
        }
        print(json.dumps(line), flush=True)
    every = collections.Counter[int]()
    for seen in statuses.values():
        every.update(seen)
    server_errors = sum(n for code, n in every.items() if code >= 500 or code == 0)
    summary = {
        "op": "load_summary",
        "seconds": args.seconds,
        "users": args.users,
        "requests": total,
        "server_errors": server_errors,
        "conflicts_409": every[409],
        "rate_limited_429": every[429],
        "baseline_p95_ms": baseline,
        "ok": not failed and server_errors == 0 and total > 0,
    }
    print(json.dumps(summary), flush=True)
    for error in environment.stats.errors.values():
        print(
            json.dumps(
                {
                    "op": "load_failure",
                    "name": error.name,
                    "error": str(error.error),
                    "n": error.occurrences,
                }
            ),
            flush=True,
        )
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
