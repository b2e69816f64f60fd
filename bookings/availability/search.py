"""Searches over the engine: free slots of a service, the staff free at one start, and a staff
member's days (working time, free slots, booked time)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bookings.availability.engine import Slot, _Engine, _slot_order
from bookings.availability.rules import _aware, _branch_rules, _load_staff, _Spec, _StaffRules
from bookings.availability.schedules import _schedules
from bookings.availability.timeline import (
    _dates,
    _dt,
    _length,
    _local,
    _merge,
    _overlap_length,
    _ts,
)
from bookings.queries import staff_in_the_way
from staff.models import Service, Staff
from tenants.models import Branch, Company

SEARCH_CHUNK_DAYS = 7  # next_available looks this many days ahead per round of queries


@dataclass(frozen=True)
class StaffDay:
    date: dt.date
    working_periods: list[tuple[dt.datetime, dt.datetime]]  # breaks removed, within opening hours
    free_slots: list[Slot]
    available_minutes: int  # working minutes minus blocked and booked (occupied) minutes
    booked_minutes: int  # occupied minutes of active appointments within the working periods
    utilisation: float  # booked / (booked + available), 4 decimals; 0.0 without working time


def find_slots(
    *,
    tenant: Company,
    service: Service,
    date_from: dt.date,
    date_to: dt.date,
    branch_ids: Sequence[int] | None = None,
    staff_id: int | None = None,
    duration_minutes: int | None = None,
    exclude_appointment_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[Slot]:
    """Free slots for `service` on the local dates date_from..date_to (inclusive) of each branch,
    over all qualified staff (or `staff_id`) of the active branches (or `branch_ids`), sorted by
    (start, staff_id). `exclude_appointment_id` ignores that appointment (for a reschedule)."""
    engine = _Engine.for_service(
        tenant=tenant,
        service=service,
        duration_minutes=duration_minutes,
        branch_ids=branch_ids,
        staff_id=staff_id,
        now=now,
        exclude_appointment_id=exclude_appointment_id,
    )
    return engine.slots(date_from, date_to)


def next_available(
    *,
    tenant: Company,
    service: Service,
    after: dt.datetime,
    branch_ids: Sequence[int] | None = None,
    staff_id: int | None = None,
    limit: int = 1,
    duration_minutes: int | None = None,
    exclude_appointment_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[Slot]:
    """The first `limit` free slots starting at or after `after`, searched up to the end of the
    booking window SEARCH_CHUNK_DAYS days at a time (two queries per round)."""
    if limit < 1:
        return []
    engine = _Engine.for_service(
        tenant=tenant,
        service=service,
        duration_minutes=duration_minutes,
        branch_ids=branch_ids,
        staff_id=staff_id,
        now=now,
        exclude_appointment_id=exclude_appointment_id,
    )
    if not engine.staff:
        return []
    after_ts = _ts(_aware(after, tenant))
    first = max(after_ts, engine.now_ts)
    # One day of margin on either side covers every zone's local date of these instants.
    day = dt.datetime.fromtimestamp(first, dt.UTC).date() - dt.timedelta(days=1)
    last = dt.datetime.fromtimestamp(engine.horizon_ts, dt.UTC).date() + dt.timedelta(days=1)
    found: list[Slot] = []
    while day <= last:
        chunk_end = min(day + dt.timedelta(days=SEARCH_CHUNK_DAYS - 1), last)
        found.extend(slot for slot in engine.slots(day, chunk_end) if _ts(slot.start) >= after_ts)
        # Slots before the first instant at which any branch enters the next chunk are final.
        cutoff = engine.first_instant_of(chunk_end + dt.timedelta(days=1))
        if sum(1 for slot in found if _ts(slot.start) < cutoff) >= limit:
            break
        day = chunk_end + dt.timedelta(days=1)
    found.sort(key=_slot_order)
    return found[:limit]


def staff_schedule(
    *,
    tenant: Company,
    staff: Staff,
    date_from: dt.date,
    date_to: dt.date,
    service: Service | None = None,
    now: dt.datetime | None = None,
) -> list[StaffDay]:
    """One StaffDay per local date date_from..date_to of the staff member's branch.

    Working periods are the working hours minus breaks, within the branch's opening hours (the
    time the staff member can be booked). Free slots are those of `service` when given (empty
    when the staff member is not qualified, or they or the branch are inactive), otherwise free
    windows one slot interval long. Minutes are real minutes, also on DST days.
    """
    if staff.tenant_id != tenant.pk:
        return []
    branch = Branch.objects.for_tenant(tenant).get(pk=staff.branch_id)
    rules = _branch_rules(branch)
    week = _schedules(tenant.pk, [staff.pk])[staff.pk]
    staff_rules = _StaffRules(staff=staff, branch=rules, skill=0, week=week)
    bookable = staff.is_active and branch.is_active
    if service is None:
        spec = _Spec(duration=rules.interval * 60, before=0, after=0)
    else:
        spec = _Spec.of(service, None)
        bookable = bookable and bool(
            _load_staff(tenant=tenant, service=service, branch_ids=[branch.pk], staff_id=staff.pk)
        )
    engine = _Engine(
        tenant=tenant, spec=spec, staff=[staff_rules], now=now, exclude_appointment_id=None
    )
    engine.load_busy(date_from, date_to)
    blocks, busy = engine.blocks[staff.pk], engine.busy[staff.pk]
    days: list[StaffDay] = []
    for day in _dates(date_from, date_to):
        pieces = engine.day(rules, week.get(day.weekday(), ()), day).pieces
        working = _length(pieces)
        booked = _overlap_length(busy.pairs(), pieces)
        taken = _overlap_length(_merge([*blocks.pairs(), *busy.pairs()]), pieces)
        available = working - taken
        days.append(
            StaffDay(
                date=day,
                working_periods=[
                    (_local(start, rules.zone), _local(end, rules.zone)) for start, end in pieces
                ],
                free_slots=engine.day_slots(staff_rules, day) if bookable else [],
                available_minutes=available // 60,
                booked_minutes=booked // 60,
                utilisation=round(booked / (booked + available), 4) if booked + available else 0.0,
            )
        )
    return days


def find_available_staff(
    *,
    tenant: Company,
    service: Service,
    start: dt.datetime,
    branch_ids: Sequence[int] | None = None,
    duration_minutes: int | None = None,
    now: dt.datetime | None = None,
) -> list[Staff]:
    """Staff free to perform `service` from exactly `start` (any minute), best first: skill
    level, rating and completed appointments (up to EXPERIENCE_CAP) descending, then id."""
    engine = _Engine.for_service(
        tenant=tenant,
        service=service,
        duration_minutes=duration_minutes,
        branch_ids=branch_ids,
        staff_id=None,
        now=now,
        exclude_appointment_id=None,
    )
    begin = _ts(_aware(start, tenant))
    # The rules of every qualified member first, in Python; then what keeps those it leaves
    # (blocks, appointments) and the tie-break in one statement for all of them.
    fitting = [rules for rules in engine.staff if engine.fits(rules, begin)]
    if not fitting:
        return []
    end = begin + engine.spec.duration
    in_the_way, completed = staff_in_the_way(
        tenant_id=tenant.pk,
        staff_ids=[rules.staff.pk for rules in fitting],
        begin=_dt(begin),
        end=_dt(end),
        occupied=(_dt(begin - engine.spec.before), _dt(end + engine.spec.after)),
    )
    free = [rules for rules in fitting if rules.staff.pk not in in_the_way]
    free.sort(key=lambda r: (-r.skill, -r.staff.rating, -completed.get(r.staff.pk, 0), r.staff.pk))
    return [rules.staff for rules in free]
