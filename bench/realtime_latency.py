"""Live-channel latency: from a booking's commit to its arrival at N WebSocket subscribers,
beside the latency of the REST call that made it, measured in the same run.

    .venv/bin/python bench/realtime_latency.py [--subscribers 100] [--bookings 40]
        [--redis-url redis://127.0.0.1:6379/6]

Drops and recreates its own PostgreSQL database (`askproai_bench_realtime`), migrates it and
loads the demo tenant. Serves the production topology: gunicorn (`make serve`, 2 workers)
takes the REST calls, uvicorn (`make serve-realtime`) holds the WebSockets, Redis carries the
events between them. N subscribers authenticate and subscribe to the demo Berlin branch; then
one client books, one booking at a time (`POST /api/v2/mcp/bookings`). JSON lines on stdout:

- `rest_booking_http`: the REST call's round trip (the baseline): p50, p99, max;
- `live_event_delivery`: per booking and subscriber, arrival time minus the event's
  `occurred_at` (taken inside the booking's transaction just before its commit, so it includes
  the commit): p50, p99, max over bookings × subscribers, and the ratios to the REST p50/p99;
  every subscriber must receive every booking exactly once (`missing`, `duplicates`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SYSTEM = "askproai"
from bench.database import add_database_arguments, fresh_database_url, start_django  # noqa: E402

PG_NAME = "askproai_bench_realtime"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscribers", type=int, default=100)
    p.add_argument("--bookings", type=int, default=40)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    add_database_arguments(p)
    return p.parse_args()


ARGS = parse_args()
DATABASE_URL = fresh_database_url(ARGS, PG_NAME)
SERVER_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": ARGS.redis_url,
    "CHANNEL_LAYER_PREFIX": "askproai:bench:channels:",
    "MCP_RATE_LIMIT_PRO": str(10**9),
    "LOG_LEVEL": "WARNING",
}
start_django({"DATABASE_URL": DATABASE_URL})

from django.core.management import call_command  # noqa: E402

from mcp_core.management.demo import seed_demo  # noqa: E402


def emit(op: str, n: int, seconds: float, **extra: Any) -> None:
    record = {"system": SYSTEM, "op": op, "n": n, "seconds": round(seconds, 6), **extra}
    record.setdefault("db", ARGS.db)
    print(json.dumps(record, default=str), flush=True)


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p99_ms": round(1000 * percentile(ordered, 0.99), 2),
        "max_ms": round(1000 * ordered[-1], 2),
    }


def slots(count: int) -> list[str]:
    """Distinct weekday starts from next week on, 09:00–16:00 (no two bookings collide)."""
    day = dt.date.today() + dt.timedelta(days=7 - dt.date.today().weekday())  # noqa: DTZ011
    starts: list[str] = []
    while len(starts) < count:
        if day.weekday() < 5:
            starts += [f"{day}T{hour:02d}:00:00" for hour in range(9, 17)]
        day += dt.timedelta(days=1)
    return starts[:count]


async def subscriber(url: str, key: str, channel: str, ready: asyncio.Event, got: list) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as ws:
        json.loads(await ws.recv())  # authenticated
        await ws.send(json.dumps({"type": "subscribe", "channels": [channel]}))
        json.loads(await ws.recv())  # subscribed
        ready.set()
        async for raw in ws:
            arrived = time.time()
            message = json.loads(raw)
            if message.get("type") == "event" and message["event"] == "booking.created":
                got.append((message["data"]["appointment_id"], message["occurred_at"], arrived))


async def run(ws_url: str, rest: tuple[str, int], demo: dict[str, Any]) -> None:
    branch = demo["branches"][0]["id"]
    service = next(s for s in demo["services"] if "Herren" in s["name"])["id"]
    received: list[list] = [[] for _ in range(ARGS.subscribers)]
    ready = [asyncio.Event() for _ in range(ARGS.subscribers)]
    tasks = [
        asyncio.create_task(
            subscriber(ws_url, demo["api_key"], f"branch.{branch}", ready[i], received[i])
        )
        for i in range(ARGS.subscribers)
    ]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 60)

    rest_seconds: list[float] = []
    booked: list[int] = []

    def book_all() -> None:
        conn = http.client.HTTPConnection(*rest, timeout=60)
        headers = {"Authorization": f"Bearer {demo['api_key']}", "Content-Type": "application/json"}
        for n, start in enumerate(slots(ARGS.bookings)):
            body = {
                "service_id": service,
                "branch_id": branch,
                "start_time": start,
                "customer_phone": f"+4915790{n:06d}",
                "customer_name": "Bench",
            }
            started = time.perf_counter()
            conn.request("POST", "/api/v2/mcp/bookings", json.dumps(body), headers)
            response = conn.getresponse()
            raw = response.read()
            rest_seconds.append(time.perf_counter() - started)
            if response.status != 201:
                raise RuntimeError(f"booking {n}: {response.status} {raw[:300]!r}")
            booked.append(json.loads(raw)["appointment"]["id"])
            time.sleep(0.05)  # one booking's events settle before the next

    started = time.perf_counter()
    thread = threading.Thread(target=book_all)
    thread.start()
    while thread.is_alive():
        await asyncio.sleep(0.05)
    await asyncio.sleep(2)  # the last events arrive
    seconds = time.perf_counter() - started
    for task in tasks:
        task.cancel()

    latencies: list[float] = []
    missing = duplicates = 0
    for got in received:
        ids = [appointment for appointment, _, _ in got]
        missing += len(set(booked) - set(ids))
        duplicates += len(ids) - len(set(ids))
        for _, occurred_at, arrived in got:
            latencies.append(arrived - dt.datetime.fromisoformat(occurred_at).timestamp())
    rest_summary = summary(rest_seconds)
    emit("rest_booking_http", len(rest_seconds), sum(rest_seconds), **rest_summary)
    live = summary(latencies)
    emit(
        "live_event_delivery",
        len(latencies),
        seconds,
        **live,
        subscribers=ARGS.subscribers,
        bookings=len(booked),
        missing=missing,
        duplicates=duplicates,
        p50_vs_rest=round(live["p50_ms"] / rest_summary["p50_ms"], 2),
        p99_vs_rest=round(live["p99_ms"] / rest_summary["p99_ms"], 2),
    )


def main() -> None:
    from tests.serving import asgi_server, gunicorn

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    demo = seed_demo()
    emit("seed", 1, time.perf_counter() - started, data="demo tenant (seed_demo)")
    with (
        gunicorn(
            workers=2, extra_env=SERVER_ENV, database_url=DATABASE_URL, ready_within=180
        ) as rest_base,
        asgi_server(extra_env=SERVER_ENV, ready_within=180) as ws_base,
    ):
        host, port = rest_base.removeprefix("http://").split(":")
        ws_url = ws_base.replace("http://", "ws://") + "/ws/v2/events"
        asyncio.run(run(ws_url, (host, int(port)), demo))


if __name__ == "__main__":
    main()
