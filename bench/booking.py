"""Booking benchmark: the peer's scenario (bench/peer) through our booking path.

    .venv/bin/python bench/booking.py --staff 20 --days 14 --appts-per-day 8 --book 200 [--http]
    .venv/bin/python bench/booking.py --db sqlite ...

Drops and recreates its own database (`askproai_bench_booking` on 127.0.0.1:5432 as postgres,
or a temporary SQLite file with --db sqlite). One enterprise tenant, one branch, S staff working
Mon–Fri --open–--close, one service of --service-minutes, K existing appointments per staff
member and working day on the peer's slot indices, 50 customers. JSON lines on stdout:

- `book`: M sequential booking.createBooking calls through the orchestrator (staff given), in
  free slots, day-major as the peer books them; `book_auto`: M more without staff_id (the best
  qualified free staff member is chosen). Seconds, ms per call and SQL statements per call.
  Both run, after unmeasured bookings (one staffed with each staff member, then staff-less
  ones until each customer has one), on alternate working days in two alternating rounds
  (book, book_auto, book, book_auto), one line each; then `book_ratio`: ms per call of all
  staffed and all staff-less rounds and their ratio (target ≤ 1.2).
- `probe_double_booking`: booking an already taken slot must be refused (CONFLICT);
  `race_same_slot`: 20 threads book one free slot at once, exactly one may win.
- `baseline_http` (--http): the floor of the HTTP path on this machine, the cheapest
  authenticated orchestrated call (GET /api/v2/mcp/tenant), same clients/workers.
- Both HTTP figures are steady state: every client first sends --warm-up requests of the same
  kind, unmeasured (the bookings cycling through the staff), so no worker's first-request costs
  (lazy imports, connection set-up, its memo of each staff member) are counted as throughput.
- `book_http` (--http): --clients concurrent HTTP clients POST /api/v2/mcp/bookings against
  gunicorn (--workers, sync workers as `make serve`), each booking its own free slots (at most
  --http-book), every --collide-every-th request deliberately aimed at a taken slot (must be
  409); successful bookings per second, p50/p95 latency.
- Both HTTP lines carry `cpu_ms_per_op` (CPU milliseconds per request of the gunicorn
  processes, the benchmark database's PostgreSQL backends and this client process) and
  `cpu_bound_rate`, the rate all cores could sustain at that cost: on a shared machine the
  measured rate swings with other load, the CPU cost does not.
- `check_no_double_booking`: a SQL self-join over all active appointments: no two of one staff
  member overlap.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cpu import CpuMeter  # noqa: E402 - needs the project root on sys.path
from bench.database import fresh_database_url, start_django  # noqa: E402
from bench.scenario import (  # noqa: E402 - needs the project root on sys.path
    add_scenario_arguments,
    first_day,
    hm,
    peer_flags,
    run_peer,
    slot_grid,
    taken_indices,
)

SYSTEM = "askproai"
PG_NAME = "askproai_bench_booking"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_scenario_arguments(p, default_db="postgres")
    p.add_argument("--book", "-M", type=int, default=200)
    p.add_argument("--http", action="store_true", help="also the HTTP load test against gunicorn")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--http-book", type=int, default=800, help="HTTP bookings (0: every free slot)")
    p.add_argument("--collide-every", type=int, default=20)
    p.add_argument("--warm-up", type=int, default=10, help="unmeasured requests per HTTP client")
    return p.parse_args()


ARGS = parse_args()


DATABASE_URL = fresh_database_url(ARGS, PG_NAME)
SERVER_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "MCP_RATE_LIMIT_ENTERPRISE": str(10**9),  # the limiter runs, but must not refuse the bench
    "LOG_LEVEL": "WARNING",
}
start_django(SERVER_ENV)

import django  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from bookings.confirmation import new_confirmation_number  # noqa: E402
from bookings.enums import AppointmentStatus  # noqa: E402
from bookings.models import Appointment, Customer  # noqa: E402
from mcp_core.orchestrator import execute  # noqa: E402
from staff.models import Service, Staff, StaffService, WorkingHours  # noqa: E402
from tenants import services as tenant_services  # noqa: E402
from tenants.authentication import authenticate_api_key  # noqa: E402
from tenants.enums import Plan  # noqa: E402
from tenants.models import Branch  # noqa: E402


def emit(op: str, n: int, seconds: float, **extra: Any) -> None:
    record = {"system": SYSTEM, "op": op, "n": n, "seconds": round(seconds, 6), **extra}
    record.setdefault("db", ARGS.db)
    print(json.dumps(record, default=str), flush=True)


# --------------------------------------------------------------------------------- seed


def seed(start_date: dt.date) -> dict[str, Any]:
    started = time.perf_counter()
    tenant, key = tenant_services.tenant_create(
        name="Bench Salon", plan=Plan.ENTERPRISE, actor="bench"
    )
    day_hours = {"open": ARGS.open, "close": ARGS.close, "is_open": True}
    branch = Branch.objects.create(
        tenant=tenant,
        name="Bench Mitte",
        time_zone="Europe/Berlin",
        is_active=True,
        business_hours={
            **{day: day_hours for day in ("monday", "tuesday", "wednesday", "thursday")},
            "friday": day_hours,
        },
        settings={"slot_interval_minutes": ARGS.slot_minutes, "min_notice_minutes": 0},
    )
    service = Service.objects.create(
        tenant=tenant,
        name=f"Haarschnitt {ARGS.service_minutes} min",
        duration_minutes=ARGS.service_minutes,
        price=25,
    )
    staff = Staff.objects.bulk_create(
        Staff(tenant=tenant, branch=branch, name=f"Staff {i:04d}") for i in range(ARGS.staff)
    )
    StaffService.objects.bulk_create(
        StaffService(tenant=tenant, staff=member, service=service, skill_level=1 + i % 5)
        for i, member in enumerate(staff)
    )
    WorkingHours.objects.bulk_create(
        WorkingHours(
            tenant=tenant,
            staff=member,
            weekday=weekday,
            start_time=hm(ARGS.open),
            end_time=hm(ARGS.close),
            breaks=[],
        )
        for member in staff
        for weekday in range(5)
    )
    customers = Customer.objects.bulk_create(
        Customer(tenant=tenant, phone=f"+4930{5_000_000 + i:07d}", name=f"Kunde {i}")
        for i in range(ARGS.customers)
    )
    zone = timezone.get_default_timezone()
    days = [start_date + dt.timedelta(days=i) for i in range(ARGS.days)]
    working_days = [day for day in days if day.weekday() < 5]
    grid = slot_grid(ARGS)
    length = dt.timedelta(minutes=ARGS.service_minutes)
    taken: dict[tuple[int, dt.date], set[int]] = {}
    rows: list[Any] = []
    for si, member in enumerate(staff):
        for day in working_days:
            indices = taken_indices(si, len(grid), ARGS.appts_per_day)
            taken[(si, day)] = set(indices)
            for j in indices:
                start = dt.datetime.combine(day, grid[j], tzinfo=zone)
                rows.append(
                    Appointment(
                        tenant=tenant,
                        branch=branch,
                        service=service,
                        staff=member,
                        customer=customers[len(rows) % len(customers)],
                        start_time=start,
                        end_time=start + length,
                        occupied_start=start,
                        occupied_end=start + length,
                        status=AppointmentStatus.CONFIRMED,
                        confirmation_number=new_confirmation_number(),
                        price=25,
                    )
                )
    Appointment.objects.bulk_create(rows, batch_size=500)
    return {
        "tenant": tenant,
        "api_key": key.plaintext,
        "branch": branch,
        "service": service,
        "staff": staff,
        "customers": customers,
        "working_days": working_days,
        "grid": grid,
        "taken": taken,
        "seeded": len(rows),
        "seconds": time.perf_counter() - started,
    }


def free_cells(data: dict[str, Any]) -> list[tuple[int, dt.date, int]]:
    """(staff index, day, slot index) of every slot still free in the database, day-major
    like the peer."""
    zone = timezone.get_default_timezone()
    busy = set(
        Appointment.objects.all_tenants()
        .filter(status__in=("pending", "confirmed"))
        .values_list("staff_id", "start_time")
    )
    return [
        (si, day, j)
        for day in data["working_days"]
        for si, member in enumerate(data["staff"])
        for j, slot in enumerate(data["grid"])
        if (member.pk, dt.datetime.combine(day, slot, tzinfo=zone)) not in busy
    ]


def booking_args(data: dict[str, Any], cell: tuple[int, dt.date, int], n: int, *, staff=True):
    si, day, j = cell
    args = {
        "service_id": data["service"].pk,
        "branch_id": data["branch"].pk,
        "start_time": dt.datetime.combine(day, data["grid"][j]).isoformat(),
        "customer_phone": data["customers"][n % len(data["customers"])].phone,
    }
    if staff:
        args["staff_id"] = data["staff"][si].pk
    return args


# ----------------------------------------------------------------------------- in-process


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute_sql, sql, params, many, context):
        self.count += 1
        return execute_sql(sql, params, many, context)


def bench_book(op: str, data: dict[str, Any], cells, principal, *, staff: bool) -> float:
    """Book `cells` one after another; returns milliseconds per call."""
    counter = QueryCounter()
    failures: list[str] = []
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        for n, cell in enumerate(cells):
            args = booking_args(data, cell, n, staff=staff)
            result = execute(principal, "booking", "createBooking", args, source="cli")
            if result.error is not None:
                failures.append(f"{result.error.error_type.name}: {result.error.message}")
    seconds = time.perf_counter() - started
    ok = len(cells) - len(failures)
    per_call_ms = round(1000 * seconds / max(len(cells), 1), 4)
    emit(
        op,
        ok,
        seconds,
        per_call_ms=per_call_ms,
        queries=counter.count,
        queries_per_call=round(counter.count / max(len(cells), 1), 2),
        failed=len(failures),
        api="orchestrator.execute('booking', 'createBooking')",
        **({"first_failure": failures[0]} if failures else {}),
    )
    return per_call_ms


def staffed_and_staff_less(data: dict[str, Any], staffed, staff_less, principal) -> float:
    """`book` and `book_auto` in ROUNDS alternating rounds (each round a share of both cell
    lists), so a change of the machine's load falls on both; then `book_ratio`, staff-less
    over staffed ms per call of all rounds. Returns the staffed ms per call."""
    spent: dict[bool, float] = {True: 0.0, False: 0.0}
    for round_no in range(ROUNDS):
        for staff, op, cells in ((True, "book", staffed), (False, "book_auto", staff_less)):
            share = cells[round_no::ROUNDS]
            spent[staff] += bench_book(op, data, share, principal, staff=staff) * len(share)
    staffed_ms = spent[True] / max(len(staffed), 1)
    staff_less_ms = spent[False] / max(len(staff_less), 1)
    emit(
        "book_ratio",
        len(staffed) + len(staff_less),
        0.0,
        rounds=ROUNDS,
        book_ms=round(staffed_ms, 4),
        book_auto_ms=round(staff_less_ms, 4),
        ratio=round(staff_less_ms / staffed_ms, 3) if staffed_ms else None,
        target_ratio=1.2,
    )
    return staffed_ms


ROUNDS = 2
WARM_UP = 10  # unmeasured bookings of each kind first, at least one per customer in all


def probe_double_booking(data: dict[str, Any], principal) -> bool:
    """Book an already taken slot; True when that was (wrongly) accepted."""
    day = data["working_days"][0]
    j = sorted(data["taken"][(0, day)])[0]
    started = time.perf_counter()
    result = execute(principal, "booking", "createBooking", booking_args(data, (0, day, j), 0))
    seconds = time.perf_counter() - started
    start = dt.datetime.combine(day, data["grid"][j], tzinfo=timezone.get_default_timezone())
    rows = (
        Appointment.objects.all_tenants()
        .filter(staff=data["staff"][0], start_time=start, status__in=("pending", "confirmed"))
        .count()
    )
    emit(
        "probe_double_booking",
        1,
        seconds,
        accepted=result.ok,
        double_booking_accepted=result.ok,
        error=None if result.error is None else result.error.error_type.name,
        next_available=None
        if result.error is None
        else len(result.error.details.get("next_available", [])),
        rows_for_that_slot=rows,
    )
    return result.ok


def race_same_slot(data: dict[str, Any], principal, cell, racers: int = 20) -> None:
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            barrier.wait()
            result = execute(principal, "booking", "createBooking", booking_args(data, cell, n))
            with lock:
                outcomes.append("ok" if result.error is None else result.error.error_type.name)
        finally:
            connections.close_all()

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    summary = {name: outcomes.count(name) for name in sorted(set(outcomes))}
    emit(
        "race_same_slot",
        racers,
        seconds,
        outcomes=summary,
        correct=summary.get("ok") == 1 and summary.get("CONFLICT") == racers - 1,
    )


# ----------------------------------------------------------------------------- HTTP


def cpu_figures(spent: dict[str, float], n: int) -> dict[str, Any]:
    """CPU milliseconds per operation by process group, and the rate all cores could sustain
    at that cost (load-independent, unlike the measured rate on a shared machine)."""
    groups = {k: v for k, v in spent.items() if k != "wall"}
    per_op = {k: round(1000 * v / max(n, 1), 3) for k, v in groups.items()}
    total = sum(groups.values()) * 1000 / max(n, 1)
    return {
        "cpu_ms_per_op": {**per_op, "total": round(total, 3)},
        "cpu_bound_rate": round((os.cpu_count() or 1) * 1000 / total, 1) if total else None,
    }


class Clients:
    """ARGS.clients threads, each on its own keep-alive HTTP connection: all warm up first
    (unmeasured), then the CPU meter starts and all run their measured part at once."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def run(
        self,
        warm_up: Callable[[int, http.client.HTTPConnection], None],
        work: Callable[[int, http.client.HTTPConnection], None],
    ) -> tuple[float, dict[str, float]]:
        warmed = threading.Barrier(ARGS.clients + 1)
        go = threading.Barrier(ARGS.clients + 1)

        def client(index: int) -> None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                warm_up(index, conn)
                warmed.wait()
                go.wait()
                work(index, conn)
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(ARGS.clients)]
        for thread in threads:
            thread.start()
        warmed.wait()
        meter = CpuMeter(server=f"127.0.0.1:{self.port}", database=PG_NAME)
        meter.start()
        go.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        return seconds, meter.stop()


def send(conn: http.client.HTTPConnection, method: str, path: str, headers, body=None):
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    return response.status, response.read()


def baseline_http(clients: Clients, headers: dict[str, str], per_client: int = 40) -> float:
    """The floor of the HTTP path on this machine: the cheapest authenticated orchestrated
    call (tenant.getTenant, one indexed row) with the same clients and workers."""
    failures: list[int] = []

    def warm_up(index: int, conn: http.client.HTTPConnection) -> None:
        for _ in range(ARGS.warm_up):
            send(conn, "GET", "/api/v2/mcp/tenant", headers)

    def work(index: int, conn: http.client.HTTPConnection) -> None:
        for _ in range(per_client):
            status, _body = send(conn, "GET", "/api/v2/mcp/tenant", headers)
            if status != 200:
                failures.append(status)

    seconds, spent = clients.run(warm_up, work)
    n = ARGS.clients * per_client
    emit(
        "baseline_http",
        n - len(failures),
        seconds,
        requests_per_second=round(n / seconds, 1),
        clients=ARGS.clients,
        workers=ARGS.workers,
        failed=len(failures),
        api="GET /api/v2/mcp/tenant",
        **cpu_figures(spent, n),
    )
    return n / seconds


def bench_http(data: dict[str, Any], cells) -> None:
    from tests.serving import gunicorn

    # Warm-up bookings cycle through the staff, so every worker has met each staff member (its
    # per-process memo of the booking's subjects) before the measurement starts.
    by_staff: dict[int, list[tuple[int, dt.date, int]]] = {}
    for cell in cells:
        by_staff.setdefault(cell[0], []).append(cell)
    rounds = [list(group) for group in zip(*by_staff.values(), strict=False)]
    warm_up_cells = [cell for group in rounds for cell in group][: ARGS.clients * ARGS.warm_up]
    warm_up_plans = [
        [booking_args(data, cell, n) for n, cell in enumerate(warm_up_cells[index :: ARGS.clients])]
        for index in range(ARGS.clients)
    ]
    chosen = set(warm_up_cells)
    cells = [cell for cell in cells if cell not in chosen]
    base_cells = cells[: ARGS.http_book] if ARGS.http_book else cells
    taken_cells = [
        (si, day, j) for (si, day), indices in data["taken"].items() for j in sorted(indices)
    ]
    plans: list[list[tuple[bool, dict[str, Any]]]] = [[] for _ in range(ARGS.clients)]
    for n, cell in enumerate(base_cells):
        plans[n % ARGS.clients].append((False, booking_args(data, cell, n)))
    for index, plan in enumerate(plans):  # deliberate collisions, spread through each plan
        for position in range(ARGS.collide_every - 1, len(plan), ARGS.collide_every):
            cell = taken_cells[(index * 7 + position) % len(taken_cells)]
            plan.insert(position, (True, booking_args(data, cell, position)))
    headers = {"Authorization": f"Bearer {data['api_key']}", "Content-Type": "application/json"}
    counts = {"ok": 0, "conflict_expected": 0, "conflict_unexpected": 0, "other": 0}
    latencies: list[float] = []
    problems: list[str] = []
    lock = threading.Lock()
    with gunicorn(workers=ARGS.workers, extra_env=SERVER_ENV, database_url=DATABASE_URL) as base:
        host, port = base.removeprefix("http://").split(":")
        clients = Clients(host, int(port))
        floor = baseline_http(clients, headers)

        def warm_up(index: int, conn: http.client.HTTPConnection) -> None:
            for args in warm_up_plans[index]:
                send(conn, "POST", "/api/v2/mcp/bookings", headers, json.dumps(args))

        def work(index: int, conn: http.client.HTTPConnection) -> None:
            local: dict[str, int] = dict.fromkeys(counts, 0)
            mine: list[float] = []
            for collide, args in plans[index]:
                started = time.perf_counter()
                status, body = send(conn, "POST", "/api/v2/mcp/bookings", headers, json.dumps(args))
                mine.append(time.perf_counter() - started)
                if status == 201 and not collide:
                    local["ok"] += 1
                elif status == 409:
                    local["conflict_expected" if collide else "conflict_unexpected"] += 1
                else:
                    local["other"] += 1
                    with lock:
                        problems.append(f"{status} {body[:200]!r}")
            with lock:
                for key, value in local.items():
                    counts[key] += value
                latencies.extend(mine)

        seconds, spent = clients.run(warm_up, work)
    latencies.sort()
    emit(
        "book_http",
        counts["ok"],
        seconds,
        bookings_per_second=round(counts["ok"] / seconds, 1),
        vs_baseline=round(counts["ok"] / seconds / floor, 3),
        requests_per_second=round(len(latencies) / seconds, 1),
        clients=ARGS.clients,
        workers=ARGS.workers,
        collisions_sent=sum(1 for plan in plans for collide, _ in plan if collide),
        conflicts_409=counts["conflict_expected"],
        unexpected_409=counts["conflict_unexpected"],
        other_errors=counts["other"],
        p50_ms=round(1000 * statistics.median(latencies), 2),
        p95_ms=round(1000 * latencies[int(len(latencies) * 0.95)], 2),
        api="POST /api/v2/mcp/bookings (gunicorn sync workers)",
        **cpu_figures(spent, len(latencies)),
        **({"first_problem": problems[0]} if problems else {}),
    )


def check_no_double_booking() -> None:
    table = Appointment._meta.db_table
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*) FROM {table} a JOIN {table} b
              ON a.staff_id = b.staff_id AND a.id < b.id
             AND a.occupied_start < b.occupied_end AND b.occupied_start < a.occupied_end
             WHERE a.status IN ('pending', 'confirmed') AND b.status IN ('pending', 'confirmed')
            """  # noqa: S608 — the table name is our own
        )
        pairs = cursor.fetchone()[0]
    active = Appointment.objects.all_tenants().filter(status__in=("pending", "confirmed")).count()
    emit(
        "check_no_double_booking",
        active,
        time.perf_counter() - started,
        overlapping_pairs=pairs,
        correct=pairs == 0,
    )


def main() -> None:
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_seconds = time.perf_counter() - started
    start_date = first_day(ARGS)
    data = seed(start_date)
    if connection.vendor == "postgresql":
        # Planner statistics, as a live database has them from autovacuum: without them the
        # first minutes after the bulk seed measure plans no production database would use.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    emit(
        "params",
        0,
        0.0,
        staff=ARGS.staff,
        days=ARGS.days,
        working_days=len(data["working_days"]),
        appts_per_day=ARGS.appts_per_day,
        book=ARGS.book,
        slots_per_day=len(data["grid"]),
        start_date=start_date,
        migrate_seconds=round(migrate_seconds, 3),
        django=django.get_version(),
        python=sys.version.split()[0],
    )
    emit("seed", data["seeded"], data["seconds"], note="bulk_create of appointments")
    principal = authenticate_api_key(data["api_key"])
    cells = free_cells(data)
    m = min(ARGS.book, len(cells) // 4)
    # Staffed and staff-less bookings on alternate days: a staff-less booking takes whoever is
    # free, so on a shared day it would take the cells the staffed ones come for.
    days = {day: index for index, day in enumerate(data["working_days"])}
    staffed = [cell for cell in cells if days[cell[1]] % 2 == 0]
    staff_less = [cell for cell in cells if days[cell[1]] % 2 == 1]
    # Unmeasured first: the caches (a staffed booking's of its staff member: one booking with
    # each), and every customer (the first booking of one creates it).
    warm_staffed = list({cell[0]: cell for cell in reversed(staffed)}.values())
    warm = max(WARM_UP, len(data["customers"]) - len(warm_staffed))
    for n, cell in enumerate(warm_staffed + staff_less[:warm]):
        args = booking_args(data, cell, n, staff=n < len(warm_staffed))
        execute(principal, "booking", "createBooking", args, source="cli")
    staffed = [cell for cell in staffed if cell not in warm_staffed][:m]
    staff_less = staff_less[warm : warm + m]
    ours_per_call_ms = staffed_and_staff_less(data, staffed, staff_less, principal)
    double_booking_accepted = probe_double_booking(data, principal)
    race_same_slot(data, principal, free_cells(data)[0])
    if ARGS.http:
        bench_http(data, free_cells(data))
    check_no_double_booking()
    if ARGS.with_peer:
        compare_with_peer(start_date, ours_per_call_ms, double_booking_accepted)


def compare_with_peer(start_date: dt.date, ours_per_call_ms: float, ours_accepted: bool) -> None:
    flags = [*peer_flags(ARGS, start_date), "--book", str(ARGS.book), "--no-http", "--repeat", "1"]
    peer = run_peer(flags)
    peer_ms = peer["book_public"]["per_call_ms"]
    print(
        json.dumps(
            {
                "op": "comparison",
                "peer_book_ms": peer_ms,
                "askproai_book_ms": ours_per_call_ms,
                "ratio": round(ours_per_call_ms / peer_ms, 2),
                "peer_double_booking_accepted": peer["probe_double_booking_public"]["accepted"],
                "askproai_double_booking_accepted": ours_accepted,
                "db": ARGS.db,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
