"""History benchmark: availability and booking latency with a small and a huge appointment
history, same tenant layout, same run.

    .venv/bin/python bench/history.py [--small 10000 --large 10000000] [--tenants 100]
        [--staff 20] [--book 40] [--repeat 15] [--explain]

PostgreSQL only, in its own database `askproai_hist` (dropped and created again, dropped at the
end). The layout: --tenants salons of --staff staff each, one branch, one service, customers;
the first salon is measured, with the availability scenario's upcoming appointments (K per staff
member and working day for --days days). History is past appointments spread evenly over every
staff member of every salon (8 a day, going back from yesterday; 60 % completed, 25 % still
confirmed because nobody closed them, 10 % cancelled, 5 % no-show), generated in SQL and loaded
with COPY. Phase one loads --small rows and measures; phase two adds rows up to --large (secondary
indexes and constraints dropped for the load and rebuilt from their own definitions, then VACUUM
ANALYZE, as autovacuum would leave a live table) and measures again. Each figure is the median
milliseconds per call; `ratio` lines give large / small per operation (target <= 1.5).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import drop_database, fresh_database_url, start_django  # noqa: E402
from bench.scenario import (  # noqa: E402 - needs the project root on sys.path
    add_scenario_arguments,
    first_day,
    hm,
    slot_grid,
    taken_indices,
)

PG_NAME = "askproai_hist"
TABLE = "bookings_appointment"
TARGET_RATIO = 1.5
WARM_UP = 3
# The columns a history row fills; the id is the table's identity.
COLUMNS = (
    "tenant_id, branch_id, service_id, staff_id, customer_id, start_time, end_time, "
    "occupied_start, occupied_end, status, confirmation_number, source, call_id, "
    "request_fingerprint, sync_status, external_calendar_id, price, notes, "
    "cancellation_reason, cancelled_at, confirmed_at, created_at, updated_at"
)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add_scenario_arguments(p, default_db="postgres")
    p.set_defaults(customers=200)
    p.add_argument("--small", type=int, default=10_000, help="history rows of phase one")
    p.add_argument("--large", type=int, default=10_000_000, help="history rows of phase two")
    p.add_argument("--tenants", type=int, default=100, help="salons sharing the table")
    p.add_argument("--book", type=int, default=40, help="bookings per kind and phase")
    p.add_argument("--repeat", "-R", type=int, default=15)
    p.add_argument("--explain", action="store_true", help="print the hot statements' plans")
    p.add_argument(
        "--from-migration",
        metavar="APP:NAME",
        help="run both phases at this migration, then migrate to the latest and measure the "
        "large history again (phase large_migrated): what the later migrations change",
    )
    args = p.parse_args()
    if args.db != "postgres":
        p.error("the history benchmark needs PostgreSQL (COPY)")
    return args


def emit(op: str, **fields: Any) -> dict[str, Any]:
    record = {"system": "askproai", "op": op, **fields}
    print(json.dumps(record, default=str), flush=True)
    return record


def pg_connect(args: argparse.Namespace, **kwargs: Any) -> Any:
    import psycopg

    return psycopg.connect(
        host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname=PG_NAME, **kwargs
    )


# ------------------------------------------------------------------------------------ layout


def seed_layout(args: argparse.Namespace, start: dt.date) -> dict[str, Any]:
    """Every salon with its branch, service, staff, hours and customers; the first one also
    with its upcoming appointments. Returns what the measurements need."""
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from bookings.confirmation import new_confirmation_number
    from bookings.models import Appointment, Customer
    from staff.models import Service, Staff, StaffService, WorkingHours
    from tenants import services as tenant_services
    from tenants.authentication import authenticate_api_key
    from tenants.enums import Plan
    from tenants.models import Branch

    day = {"open": args.open, "close": args.close, "is_open": True}
    closed = {"open": None, "close": None, "is_open": False}
    weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    salons = []
    for t in range(args.tenants):
        tenant, key = tenant_services.tenant_create(
            name=f"Salon {t:03d}", plan=Plan.ENTERPRISE, actor="bench"
        )
        branch = Branch.objects.create(
            tenant=tenant,
            name="Mitte",
            is_active=True,
            time_zone="Europe/Berlin",
            business_hours={name: day if i < 5 else closed for i, name in enumerate(weekdays)},
            settings={"slot_interval_minutes": args.slot_minutes, "min_notice_minutes": 0},
        )
        service = Service.objects.create(
            tenant=tenant, name="Haarschnitt", duration_minutes=args.service_minutes, price=25
        )
        staff = Staff.objects.bulk_create(
            Staff(tenant=tenant, branch=branch, name=f"Staff {i:03d}") for i in range(args.staff)
        )
        StaffService.objects.bulk_create(
            StaffService(tenant=tenant, staff=member, service=service, skill_level=1 + i % 5)
            for i, member in enumerate(staff)
        )
        WorkingHours.objects.bulk_create(
            WorkingHours(
                tenant=tenant, staff=member, weekday=d, start_time=hm(args.open),
                end_time=hm(args.close), breaks=[],
            )
            for member in staff
            for d in range(5)
        )  # fmt: skip
        customers = Customer.objects.bulk_create(
            Customer(tenant=tenant, phone=f"+49151{t:04d}{i:04d}", name=f"Kunde {i}")
            for i in range(args.customers)
        )
        salons.append((tenant, key, branch, service, staff, customers))

    tenant, key, branch, service, staff, customers = salons[0]
    zone = ZoneInfo(branch.time_zone)
    days = [start + dt.timedelta(days=i) for i in range(args.days)]
    working_days = [d for d in days if d.weekday() < 5]
    grid = slot_grid(args)
    length = dt.timedelta(minutes=args.service_minutes)
    taken: set[tuple[int, dt.date, int]] = set()
    upcoming: list[Appointment] = []
    for si, member in enumerate(staff):
        for d in working_days:
            for j in taken_indices(si, len(grid), args.appts_per_day):
                taken.add((si, d, j))
                begin = dt.datetime.combine(d, grid[j], tzinfo=zone)
                upcoming.append(
                    Appointment(
                        tenant=tenant, branch=branch, service=service, staff=member,
                        customer=customers[len(upcoming) % len(customers)], start_time=begin,
                        end_time=begin + length, occupied_start=begin, occupied_end=begin + length,
                        confirmation_number=new_confirmation_number(), price=Decimal(25),
                    )
                )  # fmt: skip
    Appointment.objects.bulk_create(upcoming, batch_size=1000)
    # Free cells to book, never on the first day (its availability is measured) and disjoint
    # between the phases. Bookings with a staff member take alternate days from those without
    # (the automatic choice may pick any staff member free at that time).
    free = {
        kind: [
            (si, d, j)
            for d in working_days[1 + offset :: 2]
            for si in range(len(staff))
            for j in range(len(grid))
            if (si, d, j) not in taken
        ]
        for offset, kind in enumerate(("book", "book_auto"))
    }
    per_day = args.staff * (len(grid) - min(args.appts_per_day, len(grid)))
    return {
        "tenant": tenant,
        "principal": authenticate_api_key(key.plaintext),
        "branch": branch,
        "service": service,
        "staff": staff,
        "customers": customers,
        "days": days,
        "grid": grid,
        "free": free,
        "free_first_day": per_day,
        "free_total": per_day * len(working_days),
        "upcoming": len(upcoming),
    }


# ----------------------------------------------------------------------------------- history


def write_staff_map(args: argparse.Namespace) -> int:
    """Number every staff member of every salon (0..n-1) with what its history rows need."""
    with pg_connect(args, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_history_staff")
        conn.execute(
            """
            CREATE UNLOGGED TABLE bench_history_staff AS
            SELECT (row_number() OVER (ORDER BY s.id) - 1)::int AS n, s.tenant_id,
                   s.branch_id, v.id AS service_id, s.id AS staff_id,
                   c.first_customer, c.customers
            FROM staff_staff s
            JOIN staff_service v ON v.tenant_id = s.tenant_id
            JOIN (SELECT tenant_id, min(id) AS first_customer, count(*)::int AS customers
                  FROM bookings_customer GROUP BY tenant_id) c ON c.tenant_id = s.tenant_id
            """
        )
        conn.execute("CREATE UNIQUE INDEX ON bench_history_staff (n)")
        return int(conn.execute("SELECT count(*) FROM bench_history_staff").fetchone()[0])


def history_select(first: int, last: int, staff_count: int) -> str:
    """Rows first..last-1 of the history, generated in SQL. Row i belongs to staff member
    i mod n and is its (i div n)-th appointment going back from yesterday: 8 a day on the hour
    from 09:00 Berlin, so no two active ones of a staff member overlap."""
    return f"""
        SELECT m.tenant_id, m.branch_id, m.service_id, m.staff_id,
               m.first_customer + (g.i % m.customers),
               t.start, t.start + interval '30 minutes', t.start, t.start + interval '30 minutes',
               CASE WHEN g.i % 20 < 12 THEN 'completed' WHEN g.i % 20 < 17 THEN 'confirmed'
                    WHEN g.i % 20 < 19 THEN 'cancelled' ELSE 'no_show' END,
               'H' || lpad(g.i::text, 11, '0'), CASE WHEN g.i % 3 = 0 THEN 'phone' ELSE 'api' END,
               '', '', 'not_required', '', 25.00, '', '',
               CASE WHEN g.i % 20 IN (17, 18) THEN t.start - interval '1 day' END,
               NULL, t.start - interval '7 days', t.start
        FROM generate_series({first}::bigint, {last - 1}::bigint) AS g(i)
        JOIN bench_history_staff m ON m.n = g.i % {staff_count}
        CROSS JOIN LATERAL (
            SELECT (date_trunc('day', now() AT TIME ZONE 'Europe/Berlin')
                    - (1 + (g.i / {staff_count}) / 8) * interval '1 day'
                    + (9 + (g.i / {staff_count}) % 8) * interval '1 hour')
                   AT TIME ZONE 'Europe/Berlin' AS start
        ) t
    """  # noqa: S608 - numbers and our own table names


def secondary_schema(conn: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The table's unique and exclusion constraints and its other non-primary indexes, each
    as (name, definition)."""
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('u', 'x') ORDER BY conname",
        [TABLE],
    ).fetchall()
    indexes = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
        [TABLE],
    ).fetchall()
    return constraints, indexes


def index_shapes(conn: Any) -> list[tuple[Any, ...]]:
    """Name, method, columns, uniqueness, expressions and predicate of every index: what must be
    the same after a rebuild (pg_get_indexdef's text is not: it deparses casts differently)."""
    return conn.execute(
        "SELECT c.relname, a.amname, i.indkey::text, i.indisunique, i.indisexclusion, "
        "pg_get_expr(i.indexprs, i.indrelid) IS NULL, pg_get_expr(i.indpred, i.indrelid) IS NULL "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
        "WHERE i.indrelid = %s::regclass ORDER BY 1",
        [TABLE],
    ).fetchall()


def load_history(args: argparse.Namespace, first: int, last: int, staff_count: int) -> float:
    """COPY history rows first..last-1 in; for a big load without the secondary indexes and
    constraints, rebuilt afterwards from their own definitions (checked identical)."""
    from psycopg import sql

    started = time.perf_counter()
    rebuild = last - first > 200_000
    with pg_connect(args, autocommit=True) as source, pg_connect(args, autocommit=True) as sink:
        before, shapes = secondary_schema(sink), index_shapes(sink)
        if rebuild:
            for name, _ in before[0]:
                sink.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(TABLE), sql.Identifier(name)))  # fmt: skip
            for name, _ in before[1]:
                sink.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        # The rows are consistent by construction: skip the foreign-key triggers per row.
        sink.execute("SET session_replication_role = replica")
        generate = f"COPY ({history_select(first, last, staff_count)}) TO STDOUT (FORMAT BINARY)"
        with (
            source.cursor().copy(generate) as out,
            sink.cursor().copy(f"COPY {TABLE} ({COLUMNS}) FROM STDIN (FORMAT BINARY)") as into,
        ):
            for block in out:
                into.write(block)
        sink.execute("SET session_replication_role = DEFAULT")
        copied = time.perf_counter() - started
        if rebuild:
            sink.execute("SET maintenance_work_mem = '1GB'")
            sink.execute("SET max_parallel_maintenance_workers = 2")
            for _, definition in before[1]:
                sink.execute(definition)
            for name, definition in before[0]:
                sink.execute(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                        sql.Identifier(TABLE), sql.Identifier(name)
                    )
                    + sql.SQL(definition)  # PostgreSQL's own text of the constraint
                )
        assert index_shapes(sink) == shapes, "the table's indexes changed"
        sink.execute(f"VACUUM ANALYZE {TABLE}")
        rows = sink.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]  # noqa: S608
    seconds = time.perf_counter() - started
    emit("load", rows=last - first, seconds=round(seconds, 1), copy_seconds=round(copied, 1),
         indexes_rebuilt=rebuild, table_rows=rows)  # fmt: skip
    return seconds


# -------------------------------------------------------------------------------- measuring


def median_ms(fn: Callable[[], Any], repeat: int, before: Callable[[], None]) -> tuple[float, Any]:
    runs, result = [], None
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - started)
    return round(1000 * statistics.median(runs), 3), result


def count_queries(fn: Callable[[], Any]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries)


def measure(args: argparse.Namespace, data: dict[str, Any], phase: str, booked: int) -> dict:
    from django.core.cache import cache

    from bookings.availability import find_slots
    from mcp_core.orchestrator import execute_named

    tenant, service, days = data["tenant"], data["service"], data["days"]
    principal = data["principal"]
    figures: dict[str, float] = {}

    def check() -> int:
        call = {"service_id": service.pk, "date": days[0].isoformat()}
        result = execute_named(principal, "booking.checkAvailability", call, source="cli")
        assert result.ok and result.data is not None, result.error
        return len(result.data["slots"])

    def search() -> int:
        return len(find_slots(tenant=tenant, service=service, date_from=days[0], date_to=days[-1]))

    check()
    search()
    for op, fn, before, expected in (
        ("check_availability", check, lambda: None, data["free_first_day"]),
        ("free_slots", search, cache.clear, data["free_total"] - booked),
    ):
        figures[op], result = median_ms(fn, args.repeat, before)
        assert result == expected, (op, result, expected)
        emit(op, phase=phase, ms=figures[op], result=result, queries=count_queries(fn))

    for op, with_staff in (("book", True), ("book_auto", False)):
        # The first WARM_UP bookings of each kind are not timed (connections, plans, caches).
        take = args.book + WARM_UP
        cells, data["free"][op] = data["free"][op][:take], data["free"][op][take:]
        runs = []
        for n, (si, d, j) in enumerate(cells):
            call = {
                "service_id": service.pk,
                "branch_id": data["branch"].pk,
                "start_time": dt.datetime.combine(d, data["grid"][j]).isoformat(),
                "customer_phone": data["customers"][n % len(data["customers"])].phone,
            }
            if with_staff:
                call["staff_id"] = data["staff"][si].pk
            started = time.perf_counter()
            result = execute_named(principal, "booking.createBooking", call, source="cli")
            if n >= WARM_UP:
                runs.append(time.perf_counter() - started)
            assert result.ok, (op, call, result.error, getattr(result.error, "details", None))
        figures[op] = round(1000 * statistics.median(runs), 3)
        emit(op, phase=phase, ms=figures[op], bookings=len(runs))
    return figures


def explain(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """The hot statements that read appointments, as PostgreSQL runs them now."""
    from bookings.enums import EXPERIENCE_CAP

    begin = dt.datetime.combine(data["days"][0], hm(args.open)).isoformat()
    staff_ids = ",".join(str(member.pk) for member in data["staff"])
    tenant = data["tenant"].pk
    statements = {
        "busy": (
            f"SELECT staff_id, occupied_start, occupied_end FROM {TABLE} WHERE tenant_id = "  # noqa: S608
            f"{tenant} AND staff_id IN ({staff_ids}) AND status IN ('pending', 'confirmed') "
            f"AND occupied_start < '{begin}'::timestamp AT TIME ZONE 'Europe/Berlin' "
            "+ interval '14 days' AND occupied_end > '"
            f"{begin}'::timestamp AT TIME ZONE 'Europe/Berlin'"
        ),
        # The automatic pick's tie-break as bookings.queries.staff_in_the_way reads it.
        "experience_per_staff": (
            "SELECT member.id, (SELECT COUNT(*) FROM (SELECT 1 FROM "  # noqa: S608
            f"{TABLE} AS done WHERE done.tenant_id = {tenant} AND done.staff_id = member.id"
            f" AND done.status = 'completed' LIMIT {EXPERIENCE_CAP}) AS capped)"
            f" FROM staff_staff AS member WHERE member.tenant_id = {tenant}"
            f" AND member.id IN ({staff_ids})"
        ),
    }
    with pg_connect(args, autocommit=True) as conn:
        for name, statement in statements.items():
            plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}").fetchall()
            emit("explain", statement=name, plan=[row[0] for row in plan])


def main() -> None:
    args = parse_args()
    start_django(
        {
            "DATABASE_URL": fresh_database_url(args, PG_NAME),
            "MCP_RATE_LIMIT_ENTERPRISE": str(10**9),
            "MCP_BOOKING_MAX_ADVANCE_DAYS": "3650",
        }
    )
    from django.core.management import call_command
    from django.db import connections

    try:
        call_command("migrate", verbosity=0)
        if args.from_migration:
            app, name = args.from_migration.split(":")
            call_command("migrate", app, name, verbosity=0)
        started = time.perf_counter()
        data = seed_layout(args, first_day(args))
        staff_count = write_staff_map(args)
        emit("layout", tenants=args.tenants, staff=staff_count, upcoming=data["upcoming"],
             seconds=round(time.perf_counter() - started, 1))  # fmt: skip
        figures = {}
        booked = 0
        for phase, first, last in (("small", 0, args.small), ("large", args.small, args.large)):
            load_history(args, first, last, staff_count)
            figures[phase] = measure(args, data, phase, booked)
            booked += 2 * (args.book + WARM_UP)
            if args.explain:
                explain(args, data)
        if args.from_migration:
            started = time.perf_counter()
            call_command("migrate", verbosity=0)
            emit("migrate", seconds=round(time.perf_counter() - started, 1))
            with pg_connect(args, autocommit=True) as conn:
                conn.execute(f"ANALYZE {TABLE}")
            figures["large_migrated"] = measure(args, data, "large_migrated", booked)
            if args.explain:
                explain(args, data)
        for phase in [name for name in figures if name != "small"]:
            for op, small in figures["small"].items():
                ratio = figures[phase][op] / small
                emit("ratio", operation=op, phase=phase, small_rows=args.small,
                     large_rows=args.large, small_ms=small, large_ms=figures[phase][op],
                     ratio=round(ratio, 2), target=TARGET_RATIO,
                     within_target=ratio <= TARGET_RATIO)  # fmt: skip
    finally:
        connections.close_all()
        drop_database(args, PG_NAME)


if __name__ == "__main__":
    main()
