"""Orchestrator benchmark: what one call costs on top of the service, and MCP round trips/s.

    .venv/bin/python bench/orchestrator.py [--calls 3000] [--seconds 5] [--concurrency 8]

Prints JSON lines. Runs on a throw-away SQLite file unless DATABASE_URL is set (then it seeds
the demo tenant there). Each figure comes with a baseline measured in the same run:
- `orchestrator_overhead`: the same read (tenant.getBranch) called as the bare selector, as the
  handler with validation, and through `execute` (rate limit, authorise, metrics, log, span).
- `mcp_http`: `tools/call` round trips per second against gunicorn (2 workers) over keep-alive
  HTTP, beside JSON-RPC `ping` on the same endpoint (auth + framing, no orchestrator).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup() -> str | None:
    tmp = None
    if not os.environ.get("DATABASE_URL"):
        tmp = tempfile.mkdtemp(prefix="askproai-bench-")
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    # The limiter is measured as part of the path, but must not refuse the benchmark itself.
    os.environ["MCP_RATE_LIMIT_PRO"] = str(10**9)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "askproai.settings")
    import django

    django.setup()
    logging.getLogger("askproai").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return tmp


def _timed(fn: Any, calls: int, repeats: int = 5) -> float:
    """Median seconds per call over `repeats` runs of `calls` calls."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - started) / calls)
    return statistics.median(runs)


def bench_overhead(calls: int, demo: dict[str, Any]) -> dict[str, Any]:
    from mcp_core.operations import CallContext, registry
    from mcp_core.orchestrator import execute
    from tenants import selectors
    from tenants.authentication import authenticate_api_key

    principal = authenticate_api_key(demo["api_key"])
    branch_id = demo["branches"][0]["id"]
    op = registry.get("tenant.getBranch")
    assert op is not None
    ctx = CallContext(
        tenant=principal.tenant,
        role=principal.role,
        actor=principal.actor,
        correlation_id="bench",
        source="cli",
        deadline=time.monotonic() + 3600,
    )
    args = {"branch_id": branch_id}

    def direct() -> None:
        selectors.branch_get(tenant=principal.tenant, branch_id=branch_id)

    def handler() -> None:
        op.handler(ctx, op.input.model_validate(args))

    def orchestrated() -> None:
        result = execute(principal, "tenant", "getBranch", args, source="cli")
        assert result.ok, result.error

    direct_s = _timed(direct, calls)
    handler_s = _timed(handler, calls)
    orchestrated_s = _timed(orchestrated, calls)
    return {
        "system": "askproai",
        "op": "orchestrator_overhead",
        "n": calls,
        "direct_us": round(direct_s * 1e6, 1),
        "handler_us": round(handler_s * 1e6, 1),
        "orchestrator_us": round(orchestrated_s * 1e6, 1),
        "overhead_us": round((orchestrated_s - direct_s) * 1e6, 1),
        "ratio_vs_direct": round(orchestrated_s / direct_s, 2),
    }


def _hammer(base: str, token: str, body: dict[str, Any], seconds: float, concurrency: int) -> int:
    import httpx

    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    counts = [0] * concurrency
    failures: list[str] = []
    stop_at = time.monotonic() + seconds

    def worker(index: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            while time.monotonic() < stop_at:
                response = http.post("/mcp", json=body)
                payload = response.json()
                if response.status_code != 200 or payload.get("result", {}).get("isError"):
                    failures.append(response.text[:200])
                    return
                counts[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"benchmark call failed: {failures[0]}")
    return sum(counts)


def bench_http(seconds: float, concurrency: int, demo: dict[str, Any]) -> dict[str, Any]:
    from tests.serving import gunicorn

    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {
            "name": "tenant_getBranch",
            "arguments": {"branch_id": demo["branches"][0]["id"]},
        },
    }
    env = {"MCP_RATE_LIMIT_PRO": str(10**9), "LOG_LEVEL": "WARNING"}
    with gunicorn(workers=2, extra_env=env, database_url=os.environ["DATABASE_URL"]) as base:
        _hammer(base, demo["api_key"], call, 1.0, concurrency)  # warm up both workers
        pings = _hammer(base, demo["api_key"], ping, seconds, concurrency)
        calls = _hammer(base, demo["api_key"], call, seconds, concurrency)
    return {
        "system": "askproai",
        "op": "mcp_http",
        "seconds": seconds,
        "concurrency": concurrency,
        "workers": 2,
        "database": os.environ["DATABASE_URL"].split(":", 1)[0],
        "tools_call_per_second": round(calls / seconds, 1),
        "baseline_ping_per_second": round(pings / seconds, 1),
        "ratio_vs_ping": round(calls / pings, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-http", action="store_true")
    options = parser.parse_args()
    _setup()
    from mcp_core.management.demo import seed_demo

    demo = seed_demo()
    print(json.dumps(bench_overhead(options.calls, demo)), flush=True)
    if not options.skip_http:
        print(json.dumps(bench_http(options.seconds, options.concurrency, demo)), flush=True)


if __name__ == "__main__":
    main()
