"""The console's start page "Heute" with a month of a 20-staff tenant's data.

    .venv/bin/python bench/console_today.py [--db postgres] [--staff 20] [--sizes 4 12] [--runs 30]

Builds its own database (SQLite file by default, or `askproai_bench_console` on PostgreSQL):
one tenant, one branch, S staff members, and for each of the last 30 days and today K
appointments per staff member (the first size; then more are added up to the next size), with
one call per appointment. For each size a JSON line: the page's median and p95 time (ms,
rendered through Django's test client as the operator) and its SQL statements: with nothing
happening (the cached day), with a domain event at the branch before each request (the view
right after a booking: the day is read again) and with the cache emptied before each request
(the day's first view); and the same for the stock admin index ("Alle Bereiche") measured in
the same run as the baseline, with the ratios. The statement count must not grow with the
appointments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import (  # noqa: E402 - needs the project root on sys.path
    add_database_arguments,
    fresh_database_url,
    start_django,
)

DAYS = 30


def _build(staff_count: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from bookings.models import Customer
    from staff.models import Service, Staff
    from tenants.models import Branch, Company, OperatorProfile

    call_command("migrate", verbosity=0)
    company = Company.objects.create(name="Salon Bench")
    branch = Branch.objects.create(tenant=company, name="Bench Mitte", is_active=True)
    service = Service.objects.create(
        tenant=company, name="Haarschnitt", duration_minutes=30, price=30
    )
    staff = [
        Staff.objects.create(tenant=company, branch=branch, name=f"Mitarbeiter {n:02d}")
        for n in range(staff_count)
    ]
    customers = [
        Customer.objects.create(tenant=company, phone=f"+49151{1000000 + n:07d}", name=f"K {n}")
        for n in range(200)
    ]
    user = get_user_model().objects.create_user("bench", is_staff=True)
    OperatorProfile.objects.create(user=user, tenant=company)
    return {
        "company": company,
        "branch": branch,
        "service": service,
        "staff": staff,
        "customers": customers,
        "user": user,
    }


def _fill(world: dict[str, Any], first_slot: int, per_day: int) -> int:
    """Appointments `first_slot`..`per_day - 1` of each staff member and day (40-minute grid
    from 08:00 branch time, so no two overlap), each with its call. Returns how many were added."""
    from zoneinfo import ZoneInfo

    from django.db.models import F
    from django.utils import timezone

    from bookings.models import Appointment
    from routing.models import CallLog

    zone = ZoneInfo(world["branch"].time_zone)
    today = timezone.localdate(timezone=zone)
    rows, calls = [], []
    for back in range(DAYS, -1, -1):
        day = today - dt.timedelta(days=back)
        for member in world["staff"]:
            for slot in range(first_slot, per_day):
                start = dt.datetime.combine(day, dt.time(8), zone) + dt.timedelta(minutes=40 * slot)
                end = start + dt.timedelta(minutes=30)
                customer = world["customers"][(slot + member.pk) % len(world["customers"])]
                rows.append(
                    Appointment(
                        tenant=world["company"],
                        branch=world["branch"],
                        service=world["service"],
                        staff=member,
                        customer=customer,
                        start_time=start,
                        end_time=end,
                        occupied_start=start,
                        occupied_end=end,
                        price=30,
                        confirmation_number=f"B{member.pk:03d}{slot:02d}{back:02d}",
                    )
                )
                calls.append(
                    CallLog(
                        tenant=world["company"],
                        branch=world["branch"],
                        call_id=f"bench_{member.pk}_{slot}_{back}",
                        started_at=start - dt.timedelta(days=2),
                        outcome="booked",
                        customer=customer,
                    )
                )
    created = Appointment.objects.for_tenant(world["company"]).bulk_create(rows, batch_size=1000)
    CallLog.objects.for_tenant(world["company"]).bulk_create(calls, batch_size=1000)
    # Booked two days ahead, so the chart of bookings per day has a month to show.
    Appointment.objects.for_tenant(world["company"]).filter(pk__in=[a.pk for a in created]).update(
        created_at=F("start_time") - dt.timedelta(days=2)
    )
    return len(created)


def _event(world: dict[str, Any]) -> None:
    """A domain event at the branch, as a booking commits one: the page's cached day is
    outdated, and stays uncached while the event is younger than SETTLE_SECONDS."""
    from django.db import transaction

    from mcp_core.events import emit

    with transaction.atomic():
        emit(
            tenant=world["company"],
            event="booking.updated",
            data={"bench": True},
            branch_id=world["branch"].pk,
        )


def _measure(client: Any, url: str, runs: int, before: Any = None) -> dict[str, Any]:
    """`before()` runs ahead of each request, outside the timing."""
    from django.db import connection

    statements: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    # A wrapper, not CaptureQueriesContext: each request resets the connection's query log.
    if before is not None:
        before()
    else:
        client.get(url)  # the statements of a view served from the cache, not of the one filling it
    with connection.execute_wrapper(count):
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    timings = []
    for _ in range(runs):
        if before is not None:
            before()
        began = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    return {
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 1),
        "queries": len(statements),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_arguments(parser, default_db="sqlite")
    parser.add_argument("--staff", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 12])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    url = fresh_database_url(args, "askproai_bench_console")
    start_django({"DATABASE_URL": url, "DEBUG": "0"})

    from django.core.cache import cache
    from django.test import Client

    from bookings.models import Appointment

    world = _build(args.staff)
    client = Client()
    client.force_login(world["user"])
    done = 0
    for per_day in sorted(args.sizes):
        _fill(world, done, per_day)
        # Bulk rows emit no domain event: the cached day would not know about them.
        cache.clear()
        done = per_day
        today = _measure(client, "/admin/", args.runs)
        after_event = _measure(client, "/admin/", args.runs, before=lambda: _event(world))
        empty = _measure(client, "/admin/", args.runs, before=cache.clear)
        baseline = _measure(client, "/admin/bereiche/", args.runs)
        print(
            json.dumps(
                {
                    "bench": "console_today",
                    "db": args.db,
                    "staff": args.staff,
                    "appointments_per_staff_and_day": per_day,
                    "appointments": Appointment.objects.for_tenant(world["company"]).count(),
                    "today": today,
                    "today_after_event": after_event,
                    "today_cache_empty": empty,
                    "baseline_admin_index": baseline,
                    "ratio_median": round(today["median_ms"] / baseline["median_ms"], 2),
                    "ratio_after_event": round(after_event["median_ms"] / baseline["median_ms"], 2),
                    "ratio_cache_empty": round(empty["median_ms"] / baseline["median_ms"], 2),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
