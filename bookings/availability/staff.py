"""Staff reads that need appointments: a staff member's availability, load and performance,
the staff free at one start with their ranking, and the appointments a schedule change or a
block leaves out. Tenant-owned rows are reached only through `for_tenant`.

Free time, booked time and utilisation come from the availability engine (`staff_schedule`),
so these numbers always agree with what booking offers. Dates are the branch's local dates;
working hours are wall-clock times there.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from bookings.availability.search import StaffDay, find_available_staff, staff_schedule
from bookings.enums import ACTIVE_STATUSES, EXPERIENCE_CAP, AppointmentStatus
from bookings.models import Appointment
from common.replica import reporting_read
from staff.contracts import MAX_PERFORMANCE_DAYS, PERFORMANCE_DEFAULT_DAYS
from staff.errors import InvalidStaffInput
from staff.models import Service, Staff, StaffService
from staff.selectors import (
    WeekSchedule,
    branch_zone,
    service_get,
    staff_by_ids,
    staff_get,
    staff_list,
)
from tenants.errors import BranchNotFound
from tenants.models import Branch, Company

# -------------------------------------------------------------- appointments a change leaves out


def _active_appointments(tenant: Company, staff: Staff) -> QuerySet[Appointment]:
    return Appointment.objects.for_tenant(tenant).filter(staff=staff, status__in=ACTIVE_STATUSES)


def appointments_outside_schedule(
    *, tenant: Company, staff: Staff, week: WeekSchedule, now: dt.datetime | None = None
) -> list[Appointment]:
    """Pending or confirmed appointments of the staff member starting from `now` whose booked
    time (start to end, in the branch's local time) lies in no working period of its weekday
    or touches a break."""
    zone = branch_zone(staff.branch)
    upcoming = _active_appointments(tenant, staff).filter(start_time__gte=now or timezone.now())
    outside = []
    for appointment in upcoming.order_by("start_time", "pk"):
        start = appointment.start_time.astimezone(zone)
        end = appointment.end_time.astimezone(zone)
        fits = start.date() == end.date() and any(
            period.holds(start.time(), end.time()) for period in week.days[start.weekday()]
        )
        if not fits:
            outside.append(appointment)
    return outside


def appointments_overlapping(
    *, tenant: Company, staff: Staff, start: dt.datetime, end: dt.datetime
) -> list[Appointment]:
    """Pending or confirmed appointments of the staff member whose booked time overlaps
    start–end (half-open: back-to-back does not overlap)."""
    return list(
        _active_appointments(tenant, staff)
        .filter(start_time__lt=end, end_time__gt=start)
        .order_by("start_time", "pk")
    )


# ------------------------------------------------------------------- availability and load


def _day_bounds(
    zone: zoneinfo.ZoneInfo, date_from: dt.date, date_to: dt.date
) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight of date_from to local midnight after date_to."""
    start = dt.datetime.combine(date_from, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start, end


@dataclass(frozen=True)
class StaffAvailability:
    staff: Staff
    date_from: dt.date
    date_to: dt.date
    days: list[StaffDay]

    @property
    def available_minutes(self) -> int:
        return sum(day.available_minutes for day in self.days)

    @property
    def booked_minutes(self) -> int:
        return sum(day.booked_minutes for day in self.days)

    @property
    def utilisation(self) -> float:
        return utilisation(self.booked_minutes, self.available_minutes)


def utilisation(booked: int, available: int) -> float:
    """The engine's measure: booked ÷ (booked + free) working minutes, 4 decimals."""
    return round(booked / (booked + available), 4) if booked + available else 0.0


def staff_availability(
    *,
    tenant: Company,
    staff_id: int,
    date_from: dt.date,
    date_to: dt.date | None = None,
    service_id: int | None = None,
    now: dt.datetime | None = None,
) -> StaffAvailability:
    """Working time, free slots and booked time per local date, straight from the engine.

    Raises StaffNotFound, ServiceNotFound (also for another tenant's ids).
    """
    staff = staff_get(tenant=tenant, staff_id=staff_id)
    service = service_get(tenant=tenant, service_id=service_id) if service_id else None
    date_to = date_from if date_to is None else date_to
    days = staff_schedule(
        tenant=tenant, staff=staff, date_from=date_from, date_to=date_to, service=service, now=now
    )
    return StaffAvailability(staff=staff, date_from=date_from, date_to=date_to, days=days)


@dataclass(frozen=True)
class StaffLoad:
    """A staff member's time over a range of local dates."""

    staff: Staff
    appointments: int  # pending, confirmed, completed and no-show appointments starting in it
    booked_minutes: int
    available_minutes: int

    @property
    def utilisation(self) -> float:
        return utilisation(self.booked_minutes, self.available_minutes)


def _overlap_seconds(
    start: dt.datetime, end: dt.datetime, periods: list[tuple[dt.datetime, dt.datetime]]
) -> float:
    return sum(
        max(0.0, (min(end, p_end) - max(start, p_start)).total_seconds())
        for p_start, p_end in periods
    )


def staff_load(
    *,
    tenant: Company,
    staff: Staff,
    date_from: dt.date,
    date_to: dt.date,
    now: dt.datetime | None = None,
) -> StaffLoad:
    """Booked and free working minutes of the range.

    The engine counts pending and confirmed appointments as booked; an appointment that has
    happened (completed or no-show) has left that set, so its occupied time inside the working
    periods is moved here from free to booked: a past week shows the work that was done.
    """
    days = staff_schedule(tenant=tenant, staff=staff, date_from=date_from, date_to=date_to, now=now)
    periods = [period for day in days for period in day.working_periods]
    begin, end = _day_bounds(branch_zone(staff.branch), date_from, date_to)
    appointments = Appointment.objects.for_tenant(tenant).filter(staff=staff)
    happened = appointments.filter(
        status__in=(AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW),
        occupied_start__lt=end,
        occupied_end__gt=begin,
    ).values_list("occupied_start", "occupied_end")
    done = int(sum(_overlap_seconds(start, stop, periods) for start, stop in happened) // 60)
    booked = sum(day.booked_minutes for day in days) + done
    available = max(0, sum(day.available_minutes for day in days) - done)
    count = (
        appointments.filter(start_time__gte=begin, start_time__lt=end)
        .exclude(status=AppointmentStatus.CANCELLED)
        .count()
    )
    return StaffLoad(
        staff=staff, appointments=count, booked_minutes=booked, available_minutes=available
    )


def staff_workload(
    *,
    tenant: Company,
    date_from: dt.date,
    date_to: dt.date,
    staff_id: int | None = None,
    branch_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[StaffLoad]:
    """The load of one staff member (`staff_id`, active or not) or of every active staff member
    (of `branch_id`), by name.

    Raises StaffNotFound, BranchNotFound (also for another tenant's ids).
    """
    if (
        branch_id is not None
        and not Branch.objects.for_tenant(tenant).filter(pk=branch_id).exists()
    ):
        raise BranchNotFound(details={"branch_id": branch_id})
    if staff_id is not None:
        members = [staff_get(tenant=tenant, staff_id=staff_id)]
        if branch_id is not None and members[0].branch_id != branch_id:
            members = []
    else:
        members = list(staff_list(tenant=tenant, branch_id=branch_id, active=True))
    return [
        staff_load(tenant=tenant, staff=member, date_from=date_from, date_to=date_to, now=now)
        for member in members
    ]


@dataclass(frozen=True)
class StaffPerformance:
    staff: Staff
    date_from: dt.date
    date_to: dt.date
    bookings: int
    completed: int
    no_shows: int
    cancellations: int
    revenue: Decimal
    utilisation: float

    @property
    def completion_rate(self) -> float:
        return round(self.completed / self.bookings, 4) if self.bookings else 0.0


@reporting_read
def staff_performance(
    *,
    tenant: Company,
    staff_id: int,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    now: dt.datetime | None = None,
) -> StaffPerformance:
    """Appointments starting on the local dates date_from..date_to (default: the 30 days up to
    today in the branch's time zone) by outcome, the revenue of the completed ones (EUR) and the
    utilisation of the working time (`staff_load`).

    Raises StaffNotFound and InvalidStaffInput for a reversed range or one over
    MAX_PERFORMANCE_DAYS days.
    """
    staff = staff_get(tenant=tenant, staff_id=staff_id)
    zone = branch_zone(staff.branch)
    default_span = dt.timedelta(days=PERFORMANCE_DEFAULT_DAYS - 1)
    if date_to is None:
        today = (now or timezone.now()).astimezone(zone).date()
        date_to = max(today, date_from) if date_from is not None else today
    if date_from is None:
        date_from = date_to - default_span
    if date_to < date_from:
        raise InvalidStaffInput(details={"date_to": ["Must not be before date_from."]})
    if (date_to - date_from).days + 1 > MAX_PERFORMANCE_DAYS:
        raise InvalidStaffInput(
            details={"date_to": [f"The range may span at most {MAX_PERFORMANCE_DAYS} days."]}
        )
    begin, end = _day_bounds(zone, date_from, date_to)
    completed = Q(status=AppointmentStatus.COMPLETED)
    totals = (
        Appointment.objects.for_tenant(tenant)
        .filter(staff=staff, start_time__gte=begin, start_time__lt=end)
        .aggregate(
            bookings=Count("pk"),
            completed=Count("pk", filter=completed),
            no_shows=Count("pk", filter=Q(status=AppointmentStatus.NO_SHOW)),
            cancellations=Count("pk", filter=Q(status=AppointmentStatus.CANCELLED)),
            revenue=Sum("price", filter=completed),
        )
    )
    load = staff_load(tenant=tenant, staff=staff, date_from=date_from, date_to=date_to, now=now)
    return StaffPerformance(
        staff=staff,
        date_from=date_from,
        date_to=date_to,
        bookings=totals["bookings"],
        completed=totals["completed"],
        no_shows=totals["no_shows"],
        cancellations=totals["cancellations"],
        revenue=(totals["revenue"] or Decimal("0")).quantize(Decimal("0.01")),
        utilisation=load.utilisation,
    )


# ------------------------------------------------------------------------ finding staff


@dataclass(frozen=True)
class StaffCandidate:
    staff: Staff
    skill_level: int
    completed: int  # completed appointments, any service: the engine's third ranking key

    @property
    def score(self) -> float:
        """0–100: 60 % skill level, 30 % rating, 10 % experience (capped at 50 completed)."""
        return round(
            60 * self.skill_level / 5
            + 30 * float(self.staff.rating) / 5
            + 10 * min(self.completed, EXPERIENCE_CAP) / EXPERIENCE_CAP,
            1,
        )


@dataclass(frozen=True)
class AvailableStaff:
    service: Service
    start: dt.datetime
    end: dt.datetime
    candidates: list[StaffCandidate]


def staff_find_available(
    *,
    tenant: Company,
    service_id: int,
    start: dt.datetime,
    branch_ids: list[int] | None = None,
    duration_minutes: int | None = None,
    now: dt.datetime | None = None,
) -> AvailableStaff:
    """Staff qualified and free for the service from exactly `start`, best first (the
    engine's order: skill level, rating, completed appointments up to EXPERIENCE_CAP).

    A naive `start` is read in the time zone of the first of `branch_ids`, else in the
    tenant's (Europe/Berlin unless changed); an aware one is taken as it is. Raises
    ServiceNotFound, BranchNotFound (details: branch_ids) for ids that are not the tenant's.
    """
    service = service_get(tenant=tenant, service_id=service_id)
    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    if branch_ids:
        branches = {b.pk: b for b in Branch.objects.for_tenant(tenant).filter(pk__in=branch_ids)}
        missing = [pk for pk in branch_ids if pk not in branches]
        if missing:
            raise BranchNotFound(details={"branch_ids": missing})
        zone = branch_zone(branches[branch_ids[0]])
    if timezone.is_naive(start):
        start = start.replace(tzinfo=zone)
    start = start.astimezone(zone)
    minutes = duration_minutes or service.duration_minutes
    found = find_available_staff(
        tenant=tenant,
        service=service,
        start=start,
        branch_ids=branch_ids or None,
        duration_minutes=duration_minutes,
        now=now,
    )
    ids = [member.pk for member in found]
    levels = dict(
        StaffService.objects.for_tenant(tenant)
        .filter(service=service, staff_id__in=ids)
        .values_list("staff_id", "skill_level")
    )
    completed = dict(
        Appointment.objects.for_tenant(tenant)
        .filter(staff_id__in=ids, status=AppointmentStatus.COMPLETED)
        .values("staff_id")
        .annotate(n=Count("staff_id"))  # not "pk": answered from appointment_completed_idx
        .values_list("staff_id", "n")
    )
    members = staff_by_ids(tenant=tenant, staff_ids=ids)
    return AvailableStaff(
        service=service,
        start=start,
        end=start + dt.timedelta(minutes=minutes),
        candidates=[
            StaffCandidate(
                staff=members[pk], skill_level=levels.get(pk, 0), completed=completed.get(pk, 0)
            )
            for pk in ids
        ],
    )
