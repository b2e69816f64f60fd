#!/usr/bin/env python
"""Benchmark of the PyPI package `django-appointment` (the PEER side of a comparison).

It builds deterministic data, then times, through the package's own public functions:
  * free_slots          appointment.services.get_available_slots_for_staff(
                            date, staff, weekday, service)
                        for every staff member x every day  (what its AJAX slot view calls)
  * free_slots_http     the same through its HTTP view  GET /appointment/ajax/available_slots/
  * next_available_date its HTTP view GET /appointment/ajax/request_next_available_slot/<service>/
  * book_public         M sequential bookings through the client flow's functions:
                        AppointmentRequestForm(...).save()
                        + utils.db_helpers.create_and_save_appointment()
  * book_admin          M sequential bookings through the staff/admin service
                        appointment.services.create_new_appointment(data, request)
and runs correctness probes (slot counts before/after booking, booking an already-taken slot).

Every result is one JSON line on stdout:
  {"system": "django-appointment", "op": ..., "n": ..., "seconds": ..., ...extra fields}
"seconds" is the median over --repeat runs for read ops (all runs are listed in "runs").

Run:  .venv/bin/python bench.py --staff 20 --days 14 --appts-per-day 8 --book 200
"""

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SYSTEM = "django-appointment"


def parse_args():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--staff", "-S", type=int, default=20, help="number of staff members (S)")
    p.add_argument(
        "--days", "-D", type=int, default=14, help="calendar days to compute slots for (D)"
    )
    p.add_argument(
        "--appts-per-day",
        "-K",
        type=int,
        default=8,
        help="existing appointments per staff per working day (K)",
    )
    p.add_argument(
        "--book",
        "-M",
        type=int,
        default=200,
        help="appointments to create sequentially (M), per booking op",
    )
    p.add_argument("--repeat", "-R", type=int, default=3, help="repetitions of each read benchmark")
    p.add_argument("--customers", type=int, default=50, help="number of customer accounts")
    p.add_argument("--service-minutes", type=int, default=30, help="service duration in minutes")
    p.add_argument(
        "--slot-minutes", type=int, default=30, help="slot step in minutes (Config.slot_duration)"
    )
    p.add_argument("--open", default="09:00", help="working day start (Mon-Fri)")
    p.add_argument("--close", default="18:00", help="working day end (Mon-Fri)")
    p.add_argument(
        "--start-date",
        default=None,
        help=(
            "first day (YYYY-MM-DD, must not be in the past); "
            "default: the Monday 2 weeks from today"
        ),
    )
    p.add_argument(
        "--db", choices=["sqlite", "postgres"], default=os.environ.get("PEER_DB", "sqlite")
    )
    p.add_argument(
        "--sqlite-path",
        default=os.environ.get(
            "PEER_SQLITE_PATH",
            os.path.join(tempfile.gettempdir(), "peer_django_appointment.sqlite3"),
        ),
    )
    p.add_argument("--pg-host", default=os.environ.get("PEER_PG_HOST", "127.0.0.1"))
    p.add_argument("--pg-port", default=os.environ.get("PEER_PG_PORT", "5432"))
    p.add_argument("--pg-user", default=os.environ.get("PEER_PG_USER", "postgres"))
    p.add_argument("--pg-name", default=os.environ.get("PEER_PG_NAME", "peer_django_appointment"))
    p.add_argument("--no-http", action="store_true", help="skip the HTTP-view benchmarks")
    p.add_argument("--no-admin-book", action="store_true", help="skip the book_admin benchmark")
    return p.parse_args()


ARGS = parse_args()

# ---- configure Django before importing the package -----------------------------------------------
os.environ["DJANGO_SETTINGS_MODULE"] = "peerproj.settings"
os.environ["PEER_DB"] = ARGS.db
os.environ["PEER_SQLITE_PATH"] = ARGS.sqlite_path
os.environ["PEER_PG_HOST"] = ARGS.pg_host
os.environ["PEER_PG_PORT"] = str(ARGS.pg_port)
os.environ["PEER_PG_USER"] = ARGS.pg_user
os.environ["PEER_PG_NAME"] = ARGS.pg_name


def fresh_database():
    """Drop and recreate the benchmark database (never touches anything else)."""
    if ARGS.db == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(ARGS.sqlite_path + suffix)
    else:
        import psycopg

        with psycopg.connect(
            host=ARGS.pg_host,
            port=ARGS.pg_port,
            user=ARGS.pg_user,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{ARGS.pg_name}"')
            conn.execute(f'CREATE DATABASE "{ARGS.pg_name}"')


fresh_database()

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

logging.disable(logging.CRITICAL)  # the package logs every booking at INFO through its own handler

from appointment.forms import AppointmentRequestForm  # noqa: E402
from appointment.models import (  # noqa: E402
    Appointment,
    AppointmentRequest,
    Config,
    Service,
    StaffMember,
    WorkingHours,
)
from appointment.services import create_new_appointment, get_available_slots_for_staff  # noqa: E402
from appointment.utils.db_helpers import create_and_save_appointment, get_weekday_num_from_date  # noqa: E402
from appointment.utils.view_helpers import generate_random_id  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import AnonymousUser  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

try:
    from importlib.metadata import version as _pkg_version

    PEER_VERSION = _pkg_version("django-appointment")
except Exception:  # pragma: no cover
    PEER_VERSION = "?"

User = get_user_model()


def emit(op, n, seconds, **extra):
    rec = {"system": SYSTEM, "op": op, "n": n, "seconds": round(seconds, 6)}
    rec.update(extra)
    rec.setdefault("db", ARGS.db)
    print(json.dumps(rec, default=str), flush=True)


def hm(s):
    h, m = s.split(":")
    return dt.time(int(h), int(m))


def default_start_date():
    today = timezone.localdate()
    monday_this_week = today - dt.timedelta(days=today.weekday())
    return monday_this_week + dt.timedelta(days=14)


# ---- data ----------------------------------------------------------------------------------------
def slot_grid():
    open_t, close_t = hm(ARGS.open), hm(ARGS.close)
    start = dt.datetime.combine(dt.date(2000, 1, 3), open_t)
    end = dt.datetime.combine(dt.date(2000, 1, 3), close_t)
    step = dt.timedelta(minutes=ARGS.slot_minutes)
    dur = dt.timedelta(minutes=ARGS.service_minutes)
    grid = []
    t = start
    while t + max(step, dur) <= end:
        grid.append(t.time())
        t += step
    return grid


def taken_indices(staff_idx, nslots, k):
    """K deterministic, spread-out, staff-staggered slot indices (non-overlapping when
    service == slot)."""
    k = min(k, nslots)
    return sorted({(i * nslots // k + staff_idx) % nslots for i in range(k)}) if k else []


def seed(start_date):
    t0 = time.perf_counter()
    Config(
        slot_duration=ARGS.slot_minutes,
        lead_time=hm(ARGS.open),
        finish_time=hm(ARGS.close),
        appointment_buffer_time=0,
        website_name="Peer bench",
    ).save()
    service = Service.objects.create(
        name=f"Haircut {ARGS.service_minutes}min",
        duration=dt.timedelta(minutes=ARGS.service_minutes),
        price=25,
    )
    admin = User.objects.create_superuser("admin", "admin@example.com", "x")

    staff = []
    for i in range(ARGS.staff):
        u = User.objects.create_user(
            f"staff{i:04d}", f"staff{i:04d}@example.com", first_name=f"Staff{i}", last_name="Member"
        )
        sm = StaffMember.objects.create(user=u)
        sm.services_offered.add(service)
        staff.append(sm)
    # package numbering: 0=Sunday .. 6=Saturday; Mon-Fri = 1..5
    WorkingHours.objects.bulk_create(
        [
            WorkingHours(
                staff_member=sm, day_of_week=d, start_time=hm(ARGS.open), end_time=hm(ARGS.close)
            )
            for sm in staff
            for d in range(1, 6)
        ]
    )
    User.objects.bulk_create(
        [
            User(
                username=f"cust{i:05d}",
                email=f"cust{i:05d}@example.com",
                first_name=f"Cust{i}",
                last_name="Omer",
            )
            for i in range(ARGS.customers)
        ]
    )
    customers = list(User.objects.filter(username__startswith="cust").order_by("username"))

    days = [start_date + dt.timedelta(days=i) for i in range(ARGS.days)]
    working_days = [d for d in days if d.weekday() < 5]
    grid = slot_grid()
    dur = dt.timedelta(minutes=ARGS.service_minutes)

    ars: list[AppointmentRequest] = []
    taken = {}
    for si, sm in enumerate(staff):
        for d in working_days:
            idx = taken_indices(si, len(grid), ARGS.appts_per_day)
            taken[(si, d)] = set(idx)
            for j in idx:
                st = grid[j]
                en = (dt.datetime.combine(d, st) + dur).time()
                ars.append(
                    AppointmentRequest(
                        date=d,
                        start_time=st,
                        end_time=en,
                        service=service,
                        staff_member=sm,
                        id_request=f"seed{len(ars)}{generate_random_id()}",
                    )
                )
    AppointmentRequest.objects.bulk_create(ars, batch_size=500)
    ars = list(AppointmentRequest.objects.order_by("id"))
    Appointment.objects.bulk_create(
        [
            Appointment(
                client=customers[i % len(customers)],
                appointment_request=ar,
                amount_to_pay=25,
                id_request=f"seedappt{i}{generate_random_id()}",
            )
            for i, ar in enumerate(ars)
        ],
        batch_size=500,
    )
    seconds = time.perf_counter() - t0
    return dict(
        service=service,
        admin=admin,
        staff=staff,
        customers=customers,
        days=days,
        working_days=working_days,
        grid=grid,
        taken=taken,
        seed_seconds=seconds,
        seeded=len(ars),
    )


# ---- read benchmarks -----------------------------------------------------------------------------
def all_free_slots(staff, days, service):
    total = 0
    for sm in staff:
        for d in days:
            total += len(
                get_available_slots_for_staff(d, sm, get_weekday_num_from_date(d), service=service)
            )
    return total


def count_queries(fn, *a):
    """Count SQL statements with an execute wrapper (CaptureQueriesContext caps its log at 9000)."""
    counter = [0]

    def wrapper(execute, sql, params, many, context):
        counter[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        res = fn(*a)
    return res, counter[0]


def bench_read(op, fn, args, n, expected=None, **extra):
    runs, result = [], None
    for _ in range(ARGS.repeat):
        t0 = time.perf_counter()
        result = fn(*args)
        runs.append(time.perf_counter() - t0)
    _, queries = count_queries(fn, *args)
    med = statistics.median(runs)
    fields = dict(
        runs=[round(r, 6) for r in runs],
        min_seconds=round(min(runs), 6),
        per_call_ms=round(1000 * med / max(n, 1), 4),
        queries=queries,
        queries_per_call=round(queries / max(n, 1), 2),
        result=result,
    )
    if expected is not None:
        fields.update(expected=expected, correct=(result == expected))
    fields.update(extra)
    emit(op, n, med, **fields)
    return result


def http_free_slots(client, staff, days, service):
    total = 0
    for sm in staff:
        for d in days:
            r = client.get(
                "/appointment/ajax/available_slots/",
                {"selected_date": d.isoformat(), "staff_member": sm.id, "service_id": service.id},
                HTTP_X_REQUESTED_WITH="XMLHttpRequest",
            )
            assert r.status_code == 200, (r.status_code, r.content[:200])
            total += len(r.json().get("available_slots", []))
    return total


def http_next_available(client, staff, service):
    found = 0
    for sm in staff:
        r = client.get(
            f"/appointment/ajax/request_next_available_slot/{service.id}/",
            {"staff_member": sm.id},
            HTTP_X_REQUESTED_WITH="XMLHttpRequest",
        )
        assert r.status_code == 200, (r.status_code, r.content[:200])
        found += 1 if r.json().get("next_available_date") else 0
    return found


# ---- booking benchmarks --------------------------------------------------------------------------
def free_cells(data):
    """Deterministic list of (staff_idx, date, slot_index) that are free, day-major."""
    cells = []
    for d in data["working_days"]:
        for si in range(len(data["staff"])):
            for j in range(len(data["grid"])):
                if j not in data["taken"][(si, d)]:
                    cells.append((si, d, j))
    return cells


def book_public(data, cells):
    """Client flow as the package's views do it: AppointmentRequestForm -> save ->
    create_and_save_appointment."""
    rf = RequestFactory()
    service = data["service"]
    dur = dt.timedelta(minutes=ARGS.service_minutes)
    ok = 0
    for n, (si, d, j) in enumerate(cells):
        sm = data["staff"][si]
        st = data["grid"][j]
        en = (dt.datetime.combine(d, st) + dur).time()
        form = AppointmentRequestForm(
            data={
                "date": d.isoformat(),
                "start_time": st.strftime("%H:%M"),
                "end_time": en.strftime("%H:%M"),
                "service": service.id,
                "staff_member": sm.id,
            }
        )
        if not form.is_valid():
            raise RuntimeError(form.errors.as_json())
        ar = form.save()
        cust = data["customers"][n % len(data["customers"])]
        request = rf.post("/appointment/client-info/")
        request.user = AnonymousUser()
        create_and_save_appointment(
            ar,
            {"email": cust.email, "name": cust.get_full_name()},
            {"phone": "", "address": "", "want_reminder": False, "additional_info": ""},
            request,
        )
        ok += 1
    return ok


def book_admin(data, cells):
    """Staff-side creation through appointment.services.create_new_appointment (used by its
    admin AJAX view)."""
    rf = RequestFactory()
    service = data["service"]
    ok = 0
    for n, (si, d, j) in enumerate(cells):
        sm = data["staff"][si]
        cust = data["customers"][n % len(data["customers"])]
        payload = {
            "service_id": service.id,
            "staff_member": sm.id,
            "date": d.isoformat(),
            "start_time": data["grid"][j].strftime("%H:%M"),
            "client_email": cust.email,
            "client_name": cust.get_full_name(),
            "client_phone": "",
            "client_address": "",
            "want_reminder": "false",
            "additional_info": "",
        }
        request = rf.post("/appointment/app-admin/request_new_appointment/")
        request.user = data["admin"]
        resp = create_new_appointment(payload, request)
        if resp.status_code != 200:
            raise RuntimeError(resp.content[:300])
        ok += 1
    return ok


def main():
    start_date = dt.date.fromisoformat(ARGS.start_date) if ARGS.start_date else default_start_date()
    if start_date < timezone.localdate():
        sys.exit(
            "--start-date must not be in the past (the package rejects past appointment requests)"
        )
    setup_test_environment()  # lets django.test.Client work outside a test runner

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_s = time.perf_counter() - t0

    data = seed(start_date)
    service, staff, days = data["service"], data["staff"], data["days"]
    nwork = len(data["working_days"])
    nslots = len(data["grid"])
    k = min(ARGS.appts_per_day, nslots)
    emit(
        "params",
        0,
        0.0,
        peer_version=PEER_VERSION,
        django=django.get_version(),
        python=sys.version.split()[0],
        staff=ARGS.staff,
        days=ARGS.days,
        working_days=nwork,
        appts_per_day=k,
        book=ARGS.book,
        repeat=ARGS.repeat,
        customers=ARGS.customers,
        service_minutes=ARGS.service_minutes,
        slot_minutes=ARGS.slot_minutes,
        open=ARGS.open,
        close=ARGS.close,
        start_date=start_date,
        slots_per_day=nslots,
        time_zone=timezone.get_current_timezone_name(),
        migrate_seconds=round(migrate_s, 3),
    )
    emit(
        "seed",
        data["seeded"],
        data["seed_seconds"],
        note="bulk_create of appointment requests + appointments",
    )

    expected = ARGS.staff * nwork * (nslots - k)
    n_calls = ARGS.staff * ARGS.days
    bench_read(
        "free_slots",
        all_free_slots,
        (staff, days, service),
        n_calls,
        expected=expected,
        api="appointment.services.get_available_slots_for_staff",
        staff_days=n_calls,
    )

    client = Client()
    if not ARGS.no_http:
        bench_read(
            "free_slots_http",
            http_free_slots,
            (client, staff, days, service),
            n_calls,
            expected=expected,
            api="GET /appointment/ajax/available_slots/",
            staff_days=n_calls,
        )
        bench_read(
            "next_available_date_http",
            http_next_available,
            (client, staff, service),
            ARGS.staff,
            expected=ARGS.staff,
            api="GET /appointment/ajax/request_next_available_slot/<service_id>/",
        )

    # ---- bookings (sequential, each in autocommit like the package's views) ----
    cells = free_cells(data)
    m = min(ARGS.book, len(cells) // (1 if ARGS.no_admin_book else 2))
    public_cells = cells[0::2][:m] if not ARGS.no_admin_book else cells[:m]
    admin_cells = cells[1::2][:m]
    t0 = time.perf_counter()
    ok = book_public(data, public_cells)
    sec = time.perf_counter() - t0
    emit(
        "book_public",
        ok,
        sec,
        per_call_ms=round(1000 * sec / max(ok, 1), 4),
        api="AppointmentRequestForm.save + db_helpers.create_and_save_appointment",
    )
    booked = ok
    if not ARGS.no_admin_book:
        t0 = time.perf_counter()
        ok = book_admin(data, admin_cells)
        sec = time.perf_counter() - t0
        emit(
            "book_admin",
            ok,
            sec,
            per_call_ms=round(1000 * sec / max(ok, 1), 4),
            api="appointment.services.create_new_appointment",
        )
        booked += ok

    # ---- correctness probes ----
    total_after = all_free_slots(staff, days, service)
    emit(
        "check_slots_after_booking",
        n_calls,
        0.0,
        result=total_after,
        expected=expected - booked,
        correct=(total_after == expected - booked),
    )

    # Book a slot that is already taken (seeded appointment of staff 0 on the first working day).
    d0 = data["working_days"][0]
    j0 = sorted(data["taken"][(0, d0)])[0]
    t0 = time.perf_counter()
    accepted = True
    try:
        book_public(data, [(0, d0, j0)])
    except Exception as exc:  # a conflict error would land here
        accepted = False
        err = repr(exc)[:200]
    sec = time.perf_counter() - t0
    overlapping = AppointmentRequest.objects.filter(
        staff_member=staff[0], date=d0, start_time=data["grid"][j0]
    ).count()
    emit(
        "probe_double_booking_public",
        1,
        sec,
        accepted=accepted,
        rows_for_that_slot=overlapping,
        note="peer does no server-side overlap check on booking" if accepted else err,
    )
    if not ARGS.no_admin_book:
        accepted = True
        try:
            book_admin(data, [(0, d0, j0)])
        except Exception:
            accepted = False
        overlapping = AppointmentRequest.objects.filter(
            staff_member=staff[0], date=d0, start_time=data["grid"][j0]
        ).count()
        emit(
            "probe_double_booking_admin", 1, 0.0, accepted=accepted, rows_for_that_slot=overlapping
        )


if __name__ == "__main__":
    main()
