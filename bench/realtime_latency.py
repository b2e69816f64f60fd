"""Live-channel latency: from a booking's commit to its arrival at N WebSocket subscribers,
beside the latency of the REST call that made it, measured in the same run.

    .venv/bin/python bench/realtime_latency.py [--subscribers 100] [--bookings 40]
        [--redis-url redis://127.0.0.1:6379/6] [--connect-timeout 120] [--settle-timeout 60]

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

Nothing waits for ever: subscribers that do not connect within `--connect-timeout`, a REST
call that fails or times out, or events still missing `--settle-timeout` after the last
booking end the run with an `error` line (what failed, how far it got) and exit status 1.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import json
import os
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
    p.add_argument(
        "--connect-timeout", type=float, default=120, help="seconds for all to subscribe"
    )
    p.add_argument("--settle-timeout", type=float, default=60, help="seconds for the last events")
    p.add_argument("--rest-timeout", type=float, default=60, help="seconds per REST call")
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


def progress(message: str) -> None:
    print(f"[realtime_latency] {message}", file=sys.stderr, flush=True)


class BenchFailed(Exception):
    """The run cannot give figures; the message says what failed and how far it got."""


async def subscriber(
    url: str, key: str, channel: str, ready: asyncio.Event, got: list, failures: list[str]
) -> None:
    from websockets.asyncio.client import connect

    try:
        async with connect(
            url,
            additional_headers={"Authorization": f"Bearer {key}"},
            open_timeout=ARGS.connect_timeout,
            ping_interval=None,  # a loaded machine must not drop a quiet subscriber
            max_queue=None,
        ) as ws:
            authenticated = json.loads(await ws.recv())
            if authenticated.get("type") != "authenticated":
                raise BenchFailed(f"not authenticated: {authenticated}")
            await ws.send(json.dumps({"type": "subscribe", "channels": [channel]}))
            subscribed = json.loads(await ws.recv())
            if subscribed.get("type") != "subscribed":
                raise BenchFailed(f"not subscribed: {subscribed}")
            ready.set()
            async for raw in ws:
                arrived = time.time()
                message = json.loads(raw)
                if message.get("type") == "event" and message["event"] == "booking.created":
                    got.append((message["data"]["appointment_id"], message["occurred_at"], arrived))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # reported as the run's error line
        failures.append(f"{type(exc).__name__}: {exc}")


def book_all(
    rest: tuple[str, int], demo: dict[str, Any], branch: int, service: int, result: dict
) -> None:
    """Runs in a thread: one booking at a time; fills `result` (seconds, ids, error)."""
    try:
        conn = http.client.HTTPConnection(*rest, timeout=ARGS.rest_timeout)
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
            result["seconds"].append(time.perf_counter() - started)
            if response.status != 201:
                raise BenchFailed(f"booking {n}: HTTP {response.status} {raw[:300]!r}")
            result["ids"].append(json.loads(raw)["appointment"]["id"])
            time.sleep(0.05)  # one booking's events settle before the next
    except Exception as exc:  # reported as the run's error line
        result["error"] = f"{type(exc).__name__}: {exc}"


async def run(ws_url: str, rest: tuple[str, int], demo: dict[str, Any]) -> None:
    branch = demo["branches"][0]["id"]
    service = next(s for s in demo["services"] if "Herren" in s["name"])["id"]
    received: list[list] = [[] for _ in range(ARGS.subscribers)]
    ready = [asyncio.Event() for _ in range(ARGS.subscribers)]
    failures: list[str] = []
    tasks = [
        asyncio.create_task(
            subscriber(ws_url, demo["api_key"], f"branch.{branch}", ready[i], received[i], failures)
        )
        for i in range(ARGS.subscribers)
    ]
    try:
        await _measure(rest, demo, branch, service, received, ready, failures)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _measure(
    rest: tuple[str, int],
    demo: dict[str, Any],
    branch: int,
    service: int,
    received: list[list],
    ready: list[asyncio.Event],
    failures: list[str],
) -> None:
    deadline = time.monotonic() + ARGS.connect_timeout
    while not all(event.is_set() for event in ready):
        if failures or time.monotonic() > deadline:
            connected = sum(event.is_set() for event in ready)
            raise BenchFailed(
                f"{connected} of {ARGS.subscribers} subscribers ready after "
                f"{ARGS.connect_timeout:.0f} s; failures: {failures[:3]}"
            )
        await asyncio.sleep(0.05)
    progress(f"{ARGS.subscribers} subscribers ready; booking {ARGS.bookings} times over REST")

    result: dict[str, Any] = {"seconds": [], "ids": [], "error": None}
    started = time.perf_counter()
    thread = threading.Thread(target=book_all, args=(rest, demo, branch, service, result))
    thread.start()
    while thread.is_alive():
        await asyncio.sleep(0.05)
    if result["error"] is not None:
        raise BenchFailed(f"after {len(result['ids'])} bookings: {result['error']}")
    booked: list[int] = result["ids"]
    progress(f"{len(booked)} booked; waiting up to {ARGS.settle_timeout:.0f} s for the events")

    wanted = set(booked)
    settle = time.monotonic() + ARGS.settle_timeout
    while time.monotonic() < settle and not failures:
        if all(wanted <= {ident for ident, _, _ in got} for got in received):
            break
        await asyncio.sleep(0.05)
    seconds = time.perf_counter() - started

    latencies: list[float] = []
    missing = duplicates = 0
    for got in received:
        ids = [appointment for appointment, _, _ in got]
        missing += len(wanted - set(ids))
        duplicates += len(ids) - len(set(ids))
        for _, occurred_at, arrived in got:
            latencies.append(arrived - dt.datetime.fromisoformat(occurred_at).timestamp())
    if not latencies:
        raise BenchFailed(f"no event arrived at any subscriber; failures: {failures[:3]}")
    rest_summary = summary(result["seconds"])
    emit("rest_booking_http", len(result["seconds"]), sum(result["seconds"]), **rest_summary)
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
        subscriber_failures=len(failures),
        p50_vs_rest=round(live["p50_ms"] / rest_summary["p50_ms"], 2),
        p99_vs_rest=round(live["p99_ms"] / rest_summary["p99_ms"], 2),
    )
    if missing or duplicates or failures:
        raise BenchFailed(
            f"{missing} events missing, {duplicates} duplicated, subscriber failures {failures[:3]}"
        )


def main() -> None:
    from tests.serving import asgi_server, gunicorn

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    demo = seed_demo()
    emit("seed", 1, time.perf_counter() - started, data="demo tenant (seed_demo)", load=load())
    with (
        gunicorn(
            workers=2, extra_env=SERVER_ENV, database_url=DATABASE_URL, ready_within=180
        ) as rest_base,
        asgi_server(extra_env=SERVER_ENV, ready_within=180) as ws_base,
    ):
        host, port = rest_base.removeprefix("http://").split(":")
        ws_url = ws_base.replace("http://", "ws://") + "/ws/v2/events"
        progress(f"servers up (REST {rest_base}, WebSocket {ws_base}); load {load()}")
        asyncio.run(run(ws_url, (host, int(port)), demo))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


if __name__ == "__main__":
    try:
        main()
    except BenchFailed as exc:
        print(json.dumps({"system": SYSTEM, "op": "error", "error": str(exc)}), flush=True)
        sys.exit(1)
