"""Federation benchmark: a tool call to a stdio upstream through AskProAI's /mcp against the
same call on a direct SDK session to the upstream, p50/p99 and the ratio, one run.

    .venv/bin/python bench/federation.py [--calls 300]

Needs Node and the memory server (.ci/run installs it; MCP_SERVERS_BIN elsewhere). Runs on a
throw-away SQLite file unless DATABASE_URL is set. Three figures for `memory.read_graph`:
- `direct`: an SDK `Client` over stdio to the server, the session kept open (the baseline);
- `orchestrator`: `federated_call` in process (rate limit, role, breaker, budget, audit row,
  the pooled session on its event-loop thread), no HTTP;
- `through_mcp`: an SDK `Client` over Streamable HTTP to /mcp on gunicorn (1 worker).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(os.environ.get("MCP_SERVERS_BIN", ROOT / ".ci/node/node_modules/.bin"))


def _setup() -> None:
    if not os.environ.get("DATABASE_URL"):
        tmp = tempfile.mkdtemp(prefix="askproai-bench-")
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["MCP_RATE_LIMIT_PRO"] = str(10**9)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "askproai.settings")
    import django

    django.setup()
    logging.getLogger("askproai").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _summary(name: str, seconds: list[float]) -> dict[str, Any]:
    ordered = sorted(seconds)
    return {
        f"{name}_p50_ms": round(statistics.median(ordered) * 1000, 3),
        f"{name}_p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
    }


async def _timed_async(call: Callable[[], Awaitable[Any]], calls: int) -> list[float]:
    for _ in range(10):  # warm up
        await call()
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        result = await call()
        seconds.append(time.perf_counter() - started)
        if result.is_error:
            raise RuntimeError(f"benchmark call failed: {result.content}")
    return seconds


async def _direct(calls: int, memory_file: str) -> list[float]:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=str(BIN / "mcp-server-memory"), env={"MEMORY_FILE_PATH": memory_file}
    )
    async with Client(params, mode="legacy") as client:
        return await _timed_async(lambda: client.call_tool("read_graph", {}), calls)


async def _through(calls: int, base: str, token: str) -> list[float]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
        Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client,
    ):
        # A client validates structured results against the listed tool: list once, as
        # clients do, or the SDK lists again before every call.
        cursor = None
        while True:
            page = await client.list_tools(cursor=cursor)
            cursor = page.next_cursor
            if cursor is None:
                break
        return await _timed_async(lambda: client.call_tool("memory_read_graph", {}), calls)


def _in_process(calls: int, token: str) -> list[float]:
    from mcp_core.federation.calls import federated_call
    from mcp_core.federation.sessions import close_pool
    from tenants.authentication import authenticate_api_key

    principal = authenticate_api_key(token)
    seconds = []
    try:
        for index in range(calls + 10):
            started = time.perf_counter()
            answer = federated_call(principal, "memory_read_graph", {}, source="cli")
            if answer is None or answer[0].get("isError"):
                raise RuntimeError(f"benchmark call failed: {answer}")
            if index >= 10:
                seconds.append(time.perf_counter() - started)
    finally:
        close_pool()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    options = parser.parse_args()
    _setup()
    from mcp_core.federation.registry import upstream_register
    from mcp_core.federation.upkeep import upstream_check
    from mcp_core.management.demo import seed_demo
    from tests.serving import gunicorn

    memory_dir = tempfile.mkdtemp(prefix="askproai-bench-memory-")
    upstream = upstream_register(
        tenant=None,
        actor="system:bench",
        slug="memory",
        command=[str(BIN / "mcp-server-memory")],
        credentials={"MEMORY_FILE_PATH": f"{memory_dir}/memory-{{tenant_id}}.jsonl"},
    )
    upstream_check(upstream)
    token = seed_demo()["api_key"]

    direct = asyncio.run(_direct(options.calls, f"{memory_dir}/direct.jsonl"))
    in_process = _in_process(options.calls, token)
    env = {"MCP_RATE_LIMIT_PRO": str(10**9), "LOG_LEVEL": "WARNING"}
    with gunicorn(workers=1, extra_env=env, database_url=os.environ["DATABASE_URL"]) as base:
        through = asyncio.run(_through(options.calls, base, token))
    figures = {
        "system": "askproai",
        "op": "federation_stdio_call",
        "tool": "memory.read_graph",
        "calls": options.calls,
        "database": os.environ["DATABASE_URL"].split(":", 1)[0],
        **_summary("direct", direct),
        **_summary("orchestrator", in_process),
        **_summary("through_mcp", through),
    }
    figures["ratio_p50_through_vs_direct"] = round(
        figures["through_mcp_p50_ms"] / figures["direct_p50_ms"], 2
    )
    figures["ratio_p99_through_vs_direct"] = round(
        figures["through_mcp_p99_ms"] / figures["direct_p99_ms"], 2
    )
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
