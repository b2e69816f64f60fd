"""Availability benchmark: free slots of S staff x D days, beside the `django-appointment` peer.

    .venv/bin/python bench/availability.py [--staff 20 --days 14 --appts-per-day 8]
        [--db sqlite|postgres] [--with-peer]

Same scenario and knobs as bench/peer/bench.py (django-appointment): one 30-minute
service, staff working Mon-Fri 09:00-18:00, a 30-minute slot step, K appointments per staff
member per working day on the peer's "spread out and staggered by staff" grid indices, starting
the Monday two weeks from today. Builds its own database (a throw-away SQLite file, or the
PostgreSQL database `askproai_bench_availability`, dropped afterwards) and the local-memory cache.
Prints JSON lines {"system": "askproai", "op", "n", "seconds", "queries", ...}; `seconds` is the
median of --repeat runs. `free_slots` is one find_slots call over every staff member and day with
an empty schedule cache, `free_slots_warm` the same with working hours cached, `check_availability`
booking.checkAvailability for the first day through the orchestrator. --with-peer runs the peer
with the same knobs, in its own virtual environment (bench/peer/.venv, made by
bench/peer/setup.sh when missing), and ends with a comparison line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import drop_database, fresh_database_url, start_django  # noqa: E402
from bench.scenario import (  # noqa: E402 - needs the project root on sys.path
    add_scenario_arguments,
    first_day,
    hm,
    peer_flags,
    run_peer,
    slot_grid,
    taken_indices,
)

PG_NAME = "askproai_bench_availability"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add_scenario_arguments(p, default_db="sqlite")
    p.add_argument("--repeat", "-R", type=int, default=3)
    return p.parse_args()


def emit(op: str, n: int, seconds: float, **extra: Any) -> dict[str, Any]:
    record = {"system": "askproai", "op": op, "n": n, "seconds": round(seconds, 6), **extra}
    print(json.dumps(record, default=str), flush=True)
    return record


def setup(args: argparse.Namespace) -> Callable[[], None]:
    """Point Django at a fresh database, migrate it; returns the clean-up."""
    start_django(
        {
            "DATABASE_URL": fresh_database_url(args, PG_NAME),
            "MCP_RATE_LIMIT_PRO": str(10**9),  # the limiter runs, but must not refuse the bench
        }
    )
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)

    def cleanup() -> None:
        connections.close_all()
        drop_database(args, PG_NAME)

    return cleanup


def seed(args: argparse.Namespace, start: dt.date) -> dict[str, Any]:
    from decimal import Decimal

    from bookings.confirmation import new_confirmation_number
    from bookings.models import Appointment, Customer
    from staff.models import Service, Staff, StaffService, WorkingHours
    from tenants.api_keys import generate_key
    from tenants.models import ApiKey, Branch, Company, Subscription

    tenant = Company.objects.create(name="Bench Salon", slug="bench-salon")
    Subscription.objects.create(tenant=tenant, plan="professional")
    open_, close = args.open, args.close
    day = {"open": open_, "close": close, "is_open": True}
    closed = {"open": None, "close": None, "is_open": False}
    weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    branch = Branch.objects.create(
        tenant=tenant,
        name="Bench",
        is_active=True,
        time_zone="Europe/Berlin",
        business_hours={name: day if i < 5 else closed for i, name in enumerate(weekdays)},
        settings={"slot_interval_minutes": args.slot_minutes, "min_notice_minutes": 0},
    )
    service = Service.objects.create(
        tenant=tenant, name="Haircut", duration_minutes=args.service_minutes, price=Decimal(25)
    )
    staff = Staff.objects.bulk_create(
        Staff(tenant=tenant, branch=branch, name=f"Staff {i:04d}") for i in range(args.staff)
    )
    StaffService.objects.bulk_create(
        StaffService(tenant=tenant, staff=member, service=service) for member in staff
    )
    WorkingHours.objects.bulk_create(
        WorkingHours(
            tenant=tenant, staff=member, weekday=d, start_time=hm(open_), end_time=hm(close)
        )
        for member in staff
        for d in range(5)
    )
    customers = Customer.objects.bulk_create(
        Customer(tenant=tenant, phone=f"+49151{i:07d}", name=f"Kunde {i}")
        for i in range(args.customers)
    )
    days = [start + dt.timedelta(days=i) for i in range(args.days)]
    working_days = [d for d in days if d.weekday() < 5]
    starts, zone = slot_grid(args), ZoneInfo(branch.time_zone)
    length = dt.timedelta(minutes=args.service_minutes)
    appointments: list[Appointment] = []
    for si, member in enumerate(staff):
        for d in working_days:
            for j in taken_indices(si, len(starts), args.appts_per_day):
                begin = dt.datetime.combine(d, starts[j], tzinfo=zone)
                appointments.append(
                    Appointment(
                        tenant=tenant,
                        branch=branch,
                        service=service,
                        staff=member,
                        customer=customers[len(appointments) % len(customers)],
                        start_time=begin,
                        end_time=begin + length,
                        occupied_start=begin,
                        occupied_end=begin + length,
                        confirmation_number=new_confirmation_number(),
                        price=service.price,
                    )
                )
    Appointment.objects.bulk_create(appointments, batch_size=1000)
    key = generate_key()
    api_key = ApiKey.objects.create(
        tenant=tenant, role="readonly", prefix=key.prefix, key_hash=key.key_hash
    )
    return {
        "tenant": tenant,
        "service": service,
        "api_key": api_key,
        "days": days,
        "expected": args.staff
        * len(working_days)
        * (len(starts) - min(args.appts_per_day, len(starts))),
        "seeded": len(appointments),
    }


def timed(
    fn: Callable[[], Any], repeat: int, before: Callable[[], None]
) -> tuple[Any, list[float], int]:
    """Runs (median over `repeat`), then one counted run; `before` runs untimed each time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    runs, result = [], None
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - started)
    before()
    with CaptureQueriesContext(connection) as queries:
        fn()
    return result, runs, len(queries)


def run_ours(args: argparse.Namespace, start: dt.date) -> dict[str, Any]:
    from django.core.cache import cache

    from bookings.availability import find_slots
    from mcp_core.auth import Principal
    from mcp_core.orchestrator import execute_named

    started = time.perf_counter()
    data = seed(args, start)
    emit("seed", data["seeded"], time.perf_counter() - started, db=args.db)
    tenant, service, days = data["tenant"], data["service"], data["days"]

    def search() -> int:
        return len(find_slots(tenant=tenant, service=service, date_from=days[0], date_to=days[-1]))

    figures = {}
    for op, before in (("free_slots", cache.clear), ("free_slots_warm", lambda: None)):
        count, runs, queries = timed(search, args.repeat, before)
        assert count == data["expected"], (op, count, data["expected"])
        figures[op] = emit(
            op,
            args.staff * args.days,
            statistics.median(runs),
            queries=queries,
            calls=1,
            runs=[round(r, 6) for r in runs],
            result=count,
            expected=data["expected"],
            correct=count == data["expected"],
            api="bookings.availability.find_slots",
            db=args.db,
        )

    principal = Principal(
        tenant=tenant,
        role="readonly",
        api_key_id=data["api_key"].pk,
        key_prefix=data["api_key"].prefix,
    )
    call = {"service_id": service.pk, "date": days[0].isoformat()}

    def check() -> int:
        result = execute_named(principal, "booking.checkAvailability", call, source="cli")
        assert result.ok and result.data is not None, result.error
        return len(result.data["slots"])

    count, runs, queries = timed(check, args.repeat, lambda: None)
    per_day = data["expected"] // max(1, sum(d.weekday() < 5 for d in days))
    assert count == per_day, (count, per_day)
    emit(
        "check_availability",
        args.staff,
        statistics.median(runs),
        queries=queries,
        runs=[round(r, 6) for r in runs],
        result=count,
        expected=per_day,
        correct=True,
        api="booking.checkAvailability via mcp_core.orchestrator",
        db=args.db,
    )
    return figures["free_slots"]


def run_peer_free_slots(args: argparse.Namespace, start: dt.date) -> dict[str, Any]:
    extra = ["--repeat", str(args.repeat), "--no-http", "--no-admin-book", "--book", "0"]
    return run_peer([*peer_flags(args, start), *extra]).get("free_slots", {})


def main() -> None:
    args = parse_args()
    start = first_day(args)
    cleanup = setup(args)
    try:
        ours = run_ours(args, start)
    finally:
        cleanup()
    if args.with_peer:
        peer = run_peer_free_slots(args, start)
        print(
            json.dumps(
                {
                    "op": "comparison",
                    "peer_seconds": peer["seconds"],
                    "askproai_seconds": ours["seconds"],
                    "speedup": round(peer["seconds"] / ours["seconds"], 1),
                    "peer_queries": peer["queries"],
                    "askproai_queries": ours["queries"],
                    "peer_correct": peer.get("correct"),
                    "askproai_correct": ours["correct"],
                    "db": args.db,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
