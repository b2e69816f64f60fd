"""Load-shedding benchmark: Retell custom functions while an API client floods the tenant.

    .venv/bin/python bench/load_shedding.py [--requests 200] [--flooders 4] [--workers 2]
    .venv/bin/python bench/load_shedding.py --db sqlite [--adaptive]

Drops and recreates its own database (`askproai_bench_shedding`, or a temporary SQLite file),
loads the demo tenant on plan basic (100 API calls per window) and serves the project with
gunicorn (as `make serve`). In one run it measures `check_availability` as Retell sends it
(`POST /webhooks/retell/functions`, signed) twice: quiet, then while --flooders API clients
call `GET /api/v2/mcp/tenant` with the tenant's key as fast as they can, far past its limit.
`--adaptive` turns the flag `adaptive_load_shedding` on for every tenant first;
`--refusal-memory 0` makes every refused API call take the full path; `--saturate-db N`
(PostgreSQL) keeps N+1 sessions busy during the flood (one holds an advisory lock in an open
transaction, N wait for it), judged by the server against `--db-target` busy sessions
(LOAD_SHED_DB_SESSIONS_TARGET). JSON lines:

- `retell_quiet` / `retell_during_flood`: p50, p99, max, refused (any answer not 200 with
  slots, or the spoken "ausgelastet");
- `api_flood`: the flood's answers by status and refusal scope;
- `verdict`: p99 during the flood over p99 quiet (target ≤ 1.5) and no phone call refused.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import add_database_arguments, fresh_database_url, start_django  # noqa: E402

SYSTEM = "askproai"
PG_NAME = "askproai_bench_shedding"
SIGNING_KEY = "key_bench_shedding_signing"
BERLIN_NUMBER = "+493012345670"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", "-n", type=int, default=200, help="function calls per phase")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--flooders", type=int, default=1, help="API clients flooding (processes)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (make serve: 2)")
    p.add_argument("--adaptive", action="store_true", help="flag adaptive_load_shedding on")
    p.add_argument(
        "--refusal-memory",
        default="5",
        help="LOAD_SHED_REFUSAL_MEMORY of the server (0: every refusal takes the full path)",
    )
    p.add_argument(
        "--saturate-db",
        type=int,
        default=0,
        help="sessions kept waiting on an advisory lock during the flood (PostgreSQL)",
    )
    p.add_argument("--db-target", default="24", help="LOAD_SHED_DB_SESSIONS_TARGET of the server")
    p.add_argument("--target-ratio", type=float, default=1.5)
    add_database_arguments(p)
    return p.parse_args()


ARGS = parse_args()
DATABASE_URL = fresh_database_url(ARGS, PG_NAME)
SERVER_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "RETELL_API_KEY": SIGNING_KEY,
    "LOG_LEVEL": "WARNING",
    "LOAD_SHED_REFUSAL_MEMORY": ARGS.refusal_memory,
    "LOAD_SHED_DB_SESSIONS_TARGET": ARGS.db_target,
}
start_django(SERVER_ENV)

from django.core.management import call_command  # noqa: E402

from integrations.retell.signature import sign  # noqa: E402
from mcp_core.management.demo import seed_demo  # noqa: E402
from mcp_core.models import FeatureFlag, FlagState  # noqa: E402
from tenants.enums import Plan  # noqa: E402
from tenants.models import Subscription  # noqa: E402


def emit(op: str, **fields: Any) -> None:
    print(json.dumps({"system": SYSTEM, "op": op, "db": ARGS.db, **fields}), flush=True)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]


def function_request(n: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "name": "check_availability",
            "args": {"service": "Herrenschnitt", "date": "nächsten Dienstag"},
            "call": {
                "call_type": "phone_call",
                "call_id": f"call_shed_{n:06d}",
                "agent_id": "agent_demo_berlin_de",
                "call_status": "ongoing",
                "direction": "inbound",
                "from_number": "+4915790001234",
                "to_number": BERLIN_NUMBER,
            },
        },
        ensure_ascii=False,
    )
    return body.encode(), {
        "Content-Type": "application/json",
        "X-Retell-Signature": sign(body, SIGNING_KEY),
    }


def phone_phase(host: str, port: int, first: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    latencies: list[float] = []
    refused: list[str] = []
    for n in range(first, first + ARGS.warmup + ARGS.requests):
        body, headers = function_request(n)
        started = time.perf_counter()
        conn.request("POST", "/webhooks/retell/functions", body, headers)
        response = conn.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - started
        if n < first + ARGS.warmup:
            continue
        latencies.append(elapsed)
        answer = json.loads(raw) if response.status == 200 else {}
        if not answer.get("data", {}).get("slots") or "ausgelastet" in answer.get("result", ""):
            refused.append(f"{response.status} {raw[:160]!r}")
    conn.close()
    return {
        "n": len(latencies),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * p99(latencies), 2),
        "max_ms": round(1000 * max(latencies), 2),
        "refused": len(refused),
        **({"first_refusal": refused[0]} if refused else {}),
    }


def flood(host: str, port: int, token: str, stop: Any, tally: Any) -> None:
    """One API client in a process of its own (so it takes no time from the measuring one),
    calling back to back until `stop`; its answers by status and refusal scope go to `tally`."""
    conn = http.client.HTTPConnection(host, port, timeout=60)
    mine: Counter[str] = Counter()
    while not stop.is_set():
        conn.request("GET", "/api/v2/mcp/tenant", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        raw = response.read()
        scope = ""
        if response.status == 429:
            scope = ":" + str(json.loads(raw)["error"]["details"].get("scope", "?"))
        mine[f"{response.status}{scope}"] += 1
    conn.close()
    tally.put(dict(mine))


SATURATION_LOCK = 4_242_018


@contextmanager
def saturated_database(waiters: int) -> Iterator[None]:
    """`waiters` sessions queued on an advisory lock one open transaction holds: busy sessions
    in pg_stat_activity, as a database whose connections are all taken looks."""
    if waiters <= 0:
        yield
        return
    import psycopg

    holder = psycopg.connect(DATABASE_URL)
    holder.execute("SELECT pg_advisory_xact_lock(%s)", [SATURATION_LOCK])
    sessions = [psycopg.connect(DATABASE_URL, autocommit=True) for _ in range(waiters)]
    threads = [
        threading.Thread(
            target=session.execute, args=("SELECT pg_advisory_xact_lock(%s)", [SATURATION_LOCK])
        )
        for session in sessions
    ]
    for thread in threads:
        thread.start()
    time.sleep(2.0)  # past the server's sampling interval: its next sample sees them
    try:
        yield
    finally:
        holder.rollback()
        for thread in threads:
            thread.join(timeout=60)
        for session in [holder, *sessions]:
            session.close()


def main() -> None:
    from tests.serving import gunicorn

    call_command("migrate", verbosity=0)
    demo = seed_demo()
    Subscription.objects.filter(tenant_id=demo["tenant_id"]).update(plan=Plan.BASIC)
    FeatureFlag.objects.filter(name="adaptive_load_shedding").delete()
    if ARGS.adaptive:
        FeatureFlag.objects.create(name="adaptive_load_shedding", state=FlagState.ON)

    with gunicorn(workers=ARGS.workers, extra_env=SERVER_ENV, database_url=DATABASE_URL) as base:
        host, port = base.removeprefix("http://").split(":")
        quiet = phone_phase(host, int(port), 0)
        emit("retell_quiet", workers=ARGS.workers, **quiet)

        context = multiprocessing.get_context("fork")
        stop, results = context.Event(), context.Queue()
        flooders = [
            context.Process(target=flood, args=(host, int(port), demo["api_key"], stop, results))
            for _ in range(ARGS.flooders)
        ]
        for process in flooders:
            process.start()
        time.sleep(1.0)  # the flood is past the plan's 100 calls before the phone is measured
        with saturated_database(ARGS.saturate_db if ARGS.db == "postgres" else 0):
            loaded = phone_phase(host, int(port), 1_000_000)
        stop.set()
        tally: Counter[str] = Counter()
        for _ in flooders:
            tally.update(results.get(timeout=60))
        for process in flooders:
            process.join()
    emit("retell_during_flood", workers=ARGS.workers, flooders=ARGS.flooders, **loaded)
    emit(
        "api_flood",
        flooders=ARGS.flooders,
        answers=dict(tally),
        adaptive=ARGS.adaptive,
        refusal_memory=ARGS.refusal_memory,
        saturate_db=ARGS.saturate_db,
        db_target=ARGS.db_target,
    )
    ratio = round(loaded["p99_ms"] / quiet["p99_ms"], 2)
    emit(
        "verdict",
        p99_ratio=ratio,
        target_ratio=ARGS.target_ratio,
        phone_refused=quiet["refused"] + loaded["refused"],
        meets_target=ratio <= ARGS.target_ratio and quiet["refused"] + loaded["refused"] == 0,
    )


if __name__ == "__main__":
    main()
