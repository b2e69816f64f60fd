"""Whether one booking can be made: `check_bookable` for a start at any minute (the booking
services' validation), and `booking_subjects`, the branch, service and staff member a booking
request names, cached under the tenant's schedule version."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation

from bookings.availability.rules import (
    _aware,
    _branch_rules,
    _opening_minutes,
    _Spec,
    _window_seconds,
    _working_intervals,
)
from bookings.availability.schedules import _schedules
from bookings.availability.timeline import _dt, _fits, _ts, _wall_ts
from bookings.errors import SlotNotBookable, SlotTaken
from bookings.queries import BY_BLOCK, first_in_the_way
from staff.enums import TimeBlockKind
from staff.models import Service, Staff, StaffService
from staff.schedule_version import schedule_version
from staff.selectors import service_get, staff_get
from tenants.models import Branch, Company
from tenants.selectors import branch_get


def check_bookable(
    *,
    tenant: Company,
    service: Service,
    branch: Branch,
    staff: Staff,
    start: dt.datetime,
    duration_minutes: int | None = None,
    exclude_appointment_id: int | None = None,
    now: dt.datetime | None = None,
    offer: Offer | None = None,
) -> None:
    """Check that `staff` can perform `service` at `branch` from `start` (any minute, not only
    the slot grid; a naive start is read in the branch's zone). `offer` is what
    `booking_subjects` already knows about the service's branches and the staff member's
    qualification (asked for when not given).

    Raises SlotNotBookable (details {"start_time": [reason]}) when the rules forbid it, and
    SlotTaken (details {"staff_id", "start_time"}) when it overlaps an active appointment of
    that staff member. The database's exclusion constraint still has the last word.
    """
    rules = _branch_rules(branch)
    start = _aware(start, tenant, rules.zone)
    spec = _Spec.of(service, duration_minutes)
    begin = _ts(start)
    end = begin + spec.duration
    now_ts = _ts(now or timezone.now())

    def refuse(reason: str) -> SlotNotBookable:
        return SlotNotBookable(reason, details={"start_time": [reason]})

    if begin < now_ts:
        raise refuse("The start time is in the past.")
    if begin < now_ts + rules.notice * 60:
        raise refuse(f"Bookings need at least {rules.notice} minutes' notice.")
    if begin > now_ts + _window_seconds():
        days = settings.MCP_BOOKING_MAX_ADVANCE_DAYS
        raise refuse(f"Bookings can be made at most {days} days in advance.")
    if branch.tenant_id != tenant.pk or not branch.is_active:
        raise refuse("The branch does not take bookings.")
    if service.tenant_id != tenant.pk or not service.is_active:
        raise refuse("The service is not offered.")
    if staff.tenant_id != tenant.pk or staff.branch_id != branch.pk:
        raise refuse("The staff member does not work at this branch.")
    if not staff.is_active:
        raise refuse("The staff member is not active.")
    if offer is None:
        offer = _offer_and_qualification(tenant, service, branch, staff)
    if offer.offered_anywhere and not offer.offered_here:
        raise refuse("The service is not offered at this branch.")
    if not offer.qualified:
        raise refuse("The staff member is not qualified for this service.")

    day = dt.datetime.fromtimestamp(begin, rules.zone).date()
    periods = _schedules(tenant.pk, [staff.pk])[staff.pk].get(day.weekday(), ())
    opening = _opening_minutes(rules, day)
    if opening is None or not (
        _wall_ts(day, opening[0], rules.zone) <= begin
        and end <= _wall_ts(day, opening[1], rules.zone)
    ):
        raise refuse("The branch is closed at that time.")
    if not _fits(_working_intervals(rules, periods, day, cut_breaks=False), begin, end):
        raise refuse("The time is outside the staff member's working hours.")
    if not _fits(_working_intervals(rules, periods, day, cut_breaks=True), begin, end):
        raise refuse("The time falls in the staff member's break.")
    in_the_way = first_in_the_way(
        tenant_id=tenant.pk,
        staff_id=staff.pk,
        begin=_dt(begin),
        end=_dt(end),
        occupied=(_dt(begin - spec.before), _dt(end + spec.after)),
        exclude_appointment_id=exclude_appointment_id,
    )
    if in_the_way is not None and in_the_way[0] == BY_BLOCK:
        # The API's messages are English whatever language the request's thread speaks.
        with translation.override("en"):
            kind = str(TimeBlockKind(in_the_way[1]).label)
        raise refuse(f"The staff member is not available then ({kind}).")
    if in_the_way is not None:
        raise SlotTaken(
            "The staff member already has an appointment at that time.",
            details={"staff_id": staff.pk, "start_time": start.isoformat()},
        )


@dataclass(frozen=True)
class Offer:
    offered_anywhere: bool  # the service is limited to some branches
    offered_here: bool  # ... and this is one of them
    qualified: bool  # the staff member has the service among their skills


def _offer_and_qualification(
    tenant: Company, service: Service, branch: Branch, staff: Staff | None
) -> Offer:
    """Where the service is offered and whether `staff` is qualified for it, in one query."""
    offered = Service.branches.through.objects.filter(service_id=OuterRef("pk"))
    # No staff member: id 0 matches no row, so `qualified` is False.
    skills = StaffService.objects.for_tenant(tenant).filter(
        staff_id=staff.pk if staff is not None else 0, service_id=OuterRef("pk")
    )
    row = (
        Service.objects.for_tenant(tenant)
        .filter(pk=service.pk)
        .annotate(
            anywhere=Exists(offered),
            here=Exists(offered.filter(branch_id=branch.pk)),
            qualified=Exists(skills),
        )
        .values_list("anywhere", "here", "qualified")
        .first()
    )
    return Offer(*row) if row is not None else Offer(False, False, False)


@dataclass(frozen=True)
class BookingSubjects:
    """What a booking request names, with what the checks need to know about it."""

    branch: Branch
    service: Service
    staff: Staff | None
    offer: Offer


def booking_subjects(
    *, tenant: Company, branch_id: int, service_id: int, staff_id: int | None
) -> BookingSubjects:
    """The branch, service and staff member (without skills) of a booking request, and where
    the service is offered. Cached under the tenant's schedule version: every write to a
    branch, service, staff member or skill bumps it (`staff.signals`), so a cached entry is
    never read after a change — the booking path spends no query on them while they stay.

    Raises BranchNotFound, ServiceNotFound, StaffNotFound (also for another tenant's ids)."""
    version = schedule_version(tenant.pk)
    key = f"availability:subjects:{tenant.pk}:{version}:{branch_id}:{service_id}:{staff_id}"
    if version is not None:
        cached = _subjects_seen.get(key) or cache.get(key)
        if isinstance(cached, BookingSubjects):
            _remember_subjects(key, cached)
            return cached
    branch = branch_get(tenant=tenant, branch_id=branch_id)
    service = service_get(tenant=tenant, service_id=service_id)
    staff = (
        staff_get(tenant=tenant, staff_id=staff_id, with_skills=False)
        if staff_id is not None
        else None
    )
    subjects = BookingSubjects(
        branch, service, staff, _offer_and_qualification(tenant, service, branch, staff)
    )
    if version is not None:
        cache.set(key, subjects, settings.MCP_STAFF_SCHEDULE_CACHE_TTL)
        _remember_subjects(key, subjects)
    return subjects


# Subjects this process read lately, by cache key. The key holds the tenant's schedule version,
# read from the shared cache on every call, so a write anywhere makes older entries unreachable
# here as in the cache; what this spares is unpickling three model instances per booking.
# Callers only read them.
_subjects_seen: dict[str, BookingSubjects] = {}
_SUBJECTS_SEEN_LIMIT = 1024


def _remember_subjects(key: str, subjects: BookingSubjects) -> None:
    if len(_subjects_seen) >= _SUBJECTS_SEEN_LIMIT:
        _subjects_seen.clear()
    _subjects_seen[key] = subjects
