"""Retell custom-function benchmark: check_availability and book_appointment over HTTP against
gunicorn, demo data.

    .venv/bin/python bench/retell_functions.py [--requests 60] [--clients 16] [--pause-ms 1000]
    .venv/bin/python bench/retell_functions.py --db sqlite

Drops and recreates its own database (`askproai_bench_retell` on 127.0.0.1:5432 as postgres,
or a temporary SQLite file with --db sqlite), migrates it and loads the demo tenant
(`seed_demo`). Then serves the project with gunicorn (sync workers, as `make serve`) and sends
what Retell sends mid-call: `POST /webhooks/retell/functions` with `x-retell-signature` (signed
before the clock starts, as Retell signs before it sends), body `{name: "check_availability",
args: {service, date}, call: {...to_number: the demo Berlin number...}}`.

Each client is one phone call: it sends a function, waits for the answer, then pauses while the
agent speaks the answer and the caller replies (--pause-ms, each pause drawn between half and
one and a half times it, from a seeded generator) before its next function. In a real call that
pause is several seconds (the sentence spoken, the caller's reply, the LLM's turn); the default
of one second loads the server about five times as hard as the same number of real calls. The
same clients then run again without pausing (`*_saturated`): each request waits behind the
others', so that run measures throughput, and its latency is the queue (about clients ÷
requests per second), not the time a caller waits.

JSON lines on stdout, for the paced run and then the saturated one:

- `baseline_health_http`: the floor of the HTTP path on this machine, `GET /mcp/health` (no
  auth; database, cache and broker checks), same clients, pauses and workers, same run;
- `retell_check_availability_http`: the function's round trip: p50, p99, max, requests per
  second, and the ratios to the baseline's p50/p99; `meets_target` is p99 < --target-p99-ms
  (the paced run only: the target is a caller's wait);
- `retell_mixed_http`: the same clients mixing the two functions a call makes, every
  --book-every-th request a `book_appointment` (each at its own date and time, so most book;
  a taken one is answered with alternatives), the rest `check_availability`; the same figures,
  plus how many were booked.

Every response is checked (200, slots offered) so a fast error cannot pass as a fast answer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import itertools
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SYSTEM = "askproai"
from bench.database import add_database_arguments, fresh_database_url, start_django  # noqa: E402

PG_NAME = "askproai_bench_retell"
SIGNING_KEY = "key_bench_retell_signing"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", "-n", type=int, default=60, help="function calls per client")
    p.add_argument("--warmup", type=int, default=5, help="unmeasured calls per client first")
    p.add_argument(
        "--pause-ms", type=float, default=1000.0, help="mean pause of a call between functions"
    )
    p.add_argument(
        "--saturated-requests", type=int, default=30, help="calls per client without pauses"
    )
    p.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients (calls)")
    p.add_argument("--book-every", type=int, default=4, help="every n-th mixed call books")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (make serve: 2)")
    p.add_argument("--service", default="Herrenschnitt", help="as the caller says it")
    p.add_argument("--date", default="nächsten Dienstag", help="as the caller says it")
    p.add_argument("--target-p99-ms", type=float, default=50.0)
    add_database_arguments(p)
    return p.parse_args()


ARGS = parse_args()


DATABASE_URL = fresh_database_url(ARGS, PG_NAME)
SERVER_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "RETELL_API_KEY": SIGNING_KEY,
    "MCP_RATE_LIMIT_PRO": str(10**9),  # the limiter runs, but must not refuse the bench
    "LOG_LEVEL": "WARNING",
}
start_django(SERVER_ENV)

from django.core.management import call_command  # noqa: E402

from integrations.retell.signature import sign  # noqa: E402
from mcp_core.management.demo import seed_demo  # noqa: E402

BERLIN_NUMBER = "+493012345670"


def emit(op: str, n: int, seconds: float, **extra: Any) -> None:
    record = {"system": SYSTEM, "op": op, "n": n, "seconds": round(seconds, 6), **extra}
    record.setdefault("db", ARGS.db)
    print(json.dumps(record, default=str), flush=True)


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def function_request(
    n: int, name: str = "check_availability", args: dict[str, str] | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "name": name,
            "args": args or {"service": ARGS.service, "date": ARGS.date},
            "call": {
                "call_type": "phone_call",
                "call_id": f"call_bench_{n:06d}",
                "agent_id": "agent_demo_berlin_de",
                "call_status": "ongoing",
                "direction": "inbound",
                "from_number": "+4915790001234",
                "to_number": BERLIN_NUMBER,
            },
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    headers = {
        "Content-Type": "application/json",
        "X-Retell-Signature": sign(body, SIGNING_KEY),
    }
    return body.encode(), headers


def measure(
    host: str, port: int, label: str, send, *, requests: int, pause: float
) -> dict[str, Any]:
    """ARGS.clients clients, each ARGS.warmup + `requests` calls of `send(conn, n)`, which
    returns None for a good answer or a problem description, pausing about `pause` seconds
    (untimed) after each answer."""
    barrier = threading.Barrier(ARGS.clients + 1)
    latencies: list[float] = []
    problems: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        pauses = random.Random(index)  # noqa: S311 - a load shape, not a secret
        conn = http.client.HTTPConnection(host, port, timeout=60)
        for n in range(ARGS.warmup):
            send(conn, index * 1_000_000 + n, None)
        barrier.wait()
        # Calls start spread over one pause, as calls do not all begin at the same instant.
        time.sleep(pauses.uniform(0, pause))
        mine: list[float] = []
        mistakes: list[str] = []
        for n in range(requests):
            problem = send(conn, index * 1_000_000 + ARGS.warmup + n, mine)
            if problem:
                mistakes.append(problem)
            if pause:
                time.sleep(pauses.uniform(0.5 * pause, 1.5 * pause))
        conn.close()
        with lock:
            latencies.extend(mine)
            problems.extend(mistakes)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(ARGS.clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "label": label,
        "n": len(latencies),
        "seconds": seconds,
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 2),
        "max_ms": round(1000 * latencies[-1], 2),
        "requests_per_second": round(len(latencies) / seconds, 1),
        "failed": len(problems),
        "first_problem": problems[0] if problems else None,
        "pause_ms": round(1000 * pause),
    }


def health(conn: http.client.HTTPConnection, n: int, timings: Any) -> str | None:
    started = time.perf_counter()
    conn.request("GET", "/mcp/health")
    response = conn.getresponse()
    body = response.read()
    if isinstance(timings, list):
        timings.append(time.perf_counter() - started)
    return None if response.status == 200 else f"{response.status} {body[:200]!r}"


def check_availability(conn: http.client.HTTPConnection, n: int, timings: Any) -> str | None:
    body, headers = function_request(n)
    started = time.perf_counter()
    conn.request("POST", "/webhooks/retell/functions", body, headers)
    response = conn.getresponse()
    raw = response.read()
    if isinstance(timings, list):
        timings.append(time.perf_counter() - started)
    if response.status != 200:
        return f"{response.status} {raw[:200]!r}"
    answer = json.loads(raw)
    if not answer.get("data", {}).get("slots"):
        return f"no slots offered: {answer.get('result')!r}"
    return None


_BOOKINGS = itertools.count()
_FIRST_DAY = dt.datetime.now(ZoneInfo("Europe/Berlin")).date() + dt.timedelta(days=7)
# Two Berlin staff members cut men's hair, on a 30-minute grid from 9:00 to 17:30.
_TIMES = [f"{9 + i // 2}:{30 * (i % 2):02d}" for i in range(18)]


def _booking_args() -> dict[str, str]:
    """Each booking its own weekday and time (two per time: one per qualified member)."""
    n = next(_BOOKINGS)
    weekdays = [
        day for day in (_FIRST_DAY + dt.timedelta(days=i) for i in range(120)) if day.weekday() < 5
    ]
    day = weekdays[(n // (2 * len(_TIMES))) % len(weekdays)]
    return {
        "service": ARGS.service,
        "date": day.isoformat(),
        "time": _TIMES[(n // 2) % len(_TIMES)],
        "customer_name": "Bench Caller",
    }


BOOKED: list[int] = []


def mixed(conn: http.client.HTTPConnection, n: int, timings: Any) -> str | None:
    if n % ARGS.book_every:
        return check_availability(conn, n, timings)
    body, headers = function_request(n, "book_appointment", _booking_args())
    started = time.perf_counter()
    conn.request("POST", "/webhooks/retell/functions", body, headers)
    response = conn.getresponse()
    raw = response.read()
    if isinstance(timings, list):
        timings.append(time.perf_counter() - started)
    if response.status != 200:
        return f"{response.status} {raw[:200]!r}"
    data = json.loads(raw).get("data", {})
    if data.get("booked"):
        BOOKED.append(n)
        return None
    return None if data.get("alternatives") else f"neither booked nor offered: {raw[:200]!r}"


def _emit_result(
    op: str, result: dict[str, Any], baseline: dict[str, Any], api: str, **extra: Any
) -> None:
    emit(
        op,
        result["n"],
        result["seconds"],
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        max_ms=result["max_ms"],
        requests_per_second=result["requests_per_second"],
        p50_vs_baseline=round(result["p50_ms"] / baseline["p50_ms"], 2),
        p99_vs_baseline=round(result["p99_ms"] / baseline["p99_ms"], 2),
        target_p99_ms=ARGS.target_p99_ms,
        meets_target=result["pause_ms"] > 0
        and result["p99_ms"] < ARGS.target_p99_ms
        and result["failed"] == 0,
        pause_ms=result["pause_ms"],
        clients=ARGS.clients,
        workers=ARGS.workers,
        failed=result["failed"],
        api=api,
        **extra,
        **({"first_problem": result["first_problem"]} if result["first_problem"] else {}),
    )


def run_phases(host: str, port: int, *, requests: int, pause: float, suffix: str) -> None:
    """Health, then check_availability, then the mix, with the same clients and pauses."""
    baseline = measure(host, port, "GET /mcp/health", health, requests=requests, pause=pause)
    emit(
        f"baseline_health_http{suffix}",
        baseline["n"],
        baseline["seconds"],
        p50_ms=baseline["p50_ms"],
        p99_ms=baseline["p99_ms"],
        max_ms=baseline["max_ms"],
        requests_per_second=baseline["requests_per_second"],
        clients=ARGS.clients,
        workers=ARGS.workers,
        pause_ms=baseline["pause_ms"],
        failed=baseline["failed"],
        api=baseline["label"],
    )
    label = "POST /webhooks/retell/functions"
    result = measure(host, port, label, check_availability, requests=requests, pause=pause)
    _emit_result(
        f"retell_check_availability_http{suffix}",
        result,
        baseline,
        f"{label} check_availability "
        f"{{service: {ARGS.service!r}, date: {ARGS.date!r}}} (gunicorn sync workers)",
    )
    booked_before = len(BOOKED)
    mix = measure(host, port, label, mixed, requests=requests, pause=pause)
    _emit_result(
        f"retell_mixed_http{suffix}",
        mix,
        baseline,
        f"{label} check_availability, every {ARGS.book_every}th book_appointment "
        "(gunicorn sync workers)",
        booked=len(BOOKED) - booked_before,
    )


def main() -> None:
    from tests.serving import gunicorn

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    seed_demo()
    emit("seed", 1, time.perf_counter() - started, data="demo tenant (seed_demo)")

    # On a shared machine under load a worker's boot (imports) takes minutes, not seconds.
    with gunicorn(
        workers=ARGS.workers, extra_env=SERVER_ENV, database_url=DATABASE_URL, ready_within=600
    ) as base:
        host, port = base.removeprefix("http://").split(":")
        run_phases(host, int(port), requests=ARGS.requests, pause=ARGS.pause_ms / 1000, suffix="")
        if ARGS.saturated_requests:
            run_phases(
                host, int(port), requests=ARGS.saturated_requests, pause=0, suffix="_saturated"
            )


if __name__ == "__main__":
    main()
