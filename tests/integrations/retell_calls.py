"""The scripted phone calls of the conversation suite: what the caller's agent asks, what it
must hear, and what must be in the database afterwards (run by test_retell_calls.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from bookings.enums import AppointmentStatus
from bookings.models import Appointment, Customer
from routing.models import CallLog
from staff.models import Staff
from tenants.models import Branch, Company

BERLIN_TZ = ZoneInfo("Europe/Berlin")
# A Monday morning in late November: "morgen" is Tuesday the 24th.
MONDAY = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN_TZ)
SUNDAY = dt.datetime(2026, 11, 29, 11, 0, tzinfo=BERLIN_TZ)
SATURDAY = dt.datetime(2026, 11, 28, 10, 0, tzinfo=BERLIN_TZ)
BERLIN_LINE = "+493012345670"
HAMBURG_LINE = "+494012345670"
BERLIN_BRANCH_PHONE = "+4930120045670"
HAMBURG_BRANCH_PHONE = "+4940120045670"


@dataclass(frozen=True)
class Step:
    """One custom function the agent calls; `says` are parts of the sentence it must get back
    ("{confirmation}" in args is the number the call's last booking read out)."""

    function: str
    args: dict[str, Any]
    says: tuple[str, ...]
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Script:
    name: str
    steps: tuple[Step, ...]
    expect: Callable[[], None]
    now: dt.datetime = MONDAY
    line: str = BERLIN_LINE
    setup: Callable[[], None] | None = None


# ----------------------------------------------------------------------- database outcomes


def _phone_bookings() -> list[Appointment]:
    return list(
        Appointment.objects.all_tenants()  # all_tenants: the test reads what the call wrote
        .filter(idempotency_key__startswith="retell:")
        .select_related("service", "staff")
        .order_by("start_time")
    )


def nothing_booked() -> Callable[[], None]:
    def check() -> None:
        assert _phone_bookings() == []

    return check


def booked(
    service: str,
    start: dt.datetime,
    *,
    staff: str | None = None,
    notes: str = "",
    status: str = AppointmentStatus.CONFIRMED,
    count: int = 1,
) -> Callable[[], None]:
    def check() -> None:
        appointments = _phone_bookings()
        assert len(appointments) == count, appointments
        last = (
            appointments[-1]
            if start is None
            else next(a for a in appointments if a.start_time == start)
        )
        assert (last.service.name, last.start_time, last.notes, last.status) == (
            service,
            start,
            notes,
            status,
        )
        if staff is not None:
            assert last.staff.name == staff
        assert last.customer.phone == "+4915790001234"

    return check


def call_logged(outcome: str, *, transfer_number: str = "", reason: str = "") -> Callable[[], None]:
    def check() -> None:
        log = CallLog.objects.all_tenants().get()  # all_tenants: the one call of the test
        assert (log.outcome, log.transfer_number, log.transfer_reason) == (
            outcome,
            transfer_number,
            reason,
        )
        assert (log.transferred_at is not None) == bool(transfer_number)

    return check


def both(*checks: Callable[[], None]) -> Callable[[], None]:
    def check() -> None:
        for one in checks:
            one()

    return check


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), BERLIN_TZ)


# ---------------------------------------------------------------------------- set-ups


def block_day(day: dt.date, *names: str) -> Callable[[], None]:
    """The named staff members booked from opening to closing on `day`."""

    def setup() -> None:
        customer = (
            Customer.objects.all_tenants().filter(name="Jonas Klein").get()
        )  # all_tenants: seeded demo customer
        for name in names:
            member = Staff.objects.all_tenants().get(name=name)  # all_tenants: demo staff
            service = member.services.order_by("pk").first()
            start, end = at(day, 9), at(day, 18)
            # The demo's own appointments that day make way (PostgreSQL's exclusion
            # constraint would refuse the overlap).
            member.appointments.filter(start_time__date=day).update(
                status=AppointmentStatus.CANCELLED
            )
            Appointment.objects.create(
                tenant=member.tenant,
                branch=member.branch,
                service=service,
                staff=member,
                customer=customer,
                start_time=start,
                end_time=end,
                occupied_start=start,
                occupied_end=end,
                status=AppointmentStatus.CONFIRMED,
                confirmation_number=f"BLOCK{member.pk:04d}",
                idempotency_key=f"block-{name}",
                price=service.price,
            )

    return setup


TENANT_PHONE = "+4930999888770"


def berlin_without_phone() -> None:
    """Berlin Mitte has no number of its own; the tenant has a central one."""
    Company.objects.filter(slug="salon-sonnenschein").update(phone=TENANT_PHONE)
    # all_tenants: the demo branch, by its unique name
    Branch.objects.all_tenants().filter(name="Berlin Mitte").update(phone="")
