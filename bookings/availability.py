"""The availability engine: which start times can be booked, for whom, and why not.

One engine serves booking.checkAvailability, booking.getBookingSlots, staff.getStaffAvailability,
staff.findAvailableStaff and the booking services' validation, so they always agree.

Rules, all in the branch's own time zone (`Branch.time_zone`):
- The service itself, [start, start + duration), must lie inside the branch's opening hours and
  the staff member's working periods, outside their breaks and outside their time blocks.
- Its occupied range, [start - buffer_before, end + buffer_after), must not overlap the occupied
  range of another active appointment of that staff member. Buffers may reach outside working
  hours or into a break or block: they are the staff member's set-up and clean-up time, which
  only other appointments compete for.
- The staff member is active, qualified for the service (a StaffService row) and works at an
  active branch that offers the service (a service with no branches is offered everywhere).
- The start is at least `min_notice_minutes` (branch setting, default 0) after `now` and at most
  MCP_BOOKING_MAX_ADVANCE_DAYS days after it.
- Listed slots start on a grid of `slot_interval_minutes` (branch setting, default 30) counted
  from the start of each working period; a booking (check_bookable) may start anywhere.

Daylight saving: the grid is laid out in local wall-clock time and each wall time is converted
with zoneinfo. A wall time that does not survive the round trip local → UTC → local lies in the
spring-forward gap and is dropped. A wall time of the repeated autumn hour is taken at its first
occurrence (fold=0) only, so no wall time is offered twice. Durations are real (absolute) time.

Queries per request are constant: branches, staff with skills, working hours (cached), blocks and
appointments of the whole range are loaded in one query each, and the rest is interval arithmetic
(sorted, merged intervals searched with bisect). Working hours are cached per staff member under
a per-tenant version; `schedule_cache_invalidate` bumps it. Appointments are never cached.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    Func,
    OuterRef,
    QuerySet,
)
from django.utils import timezone
from pydantic import ValidationError

from bookings.enums import ACTIVE_STATUSES, AppointmentStatus
from bookings.errors import SlotNotBookable, SlotTaken
from bookings.models import Appointment
from staff.enums import TimeBlockKind
from staff.models import Service, Staff, StaffService, TimeBlock, WorkingHours
from tenants.hours import WeekHours, parse_business_hours, parse_hh_mm
from tenants.models import Branch, Company
from tenants.selectors import branch_get

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType

logger = logging.getLogger(__name__)

DEFAULT_SLOT_INTERVAL = 30  # minutes
DEFAULT_MIN_NOTICE = 0  # minutes
SEARCH_CHUNK_DAYS = 7  # next_available looks this many days ahead per round of queries
_NEVER = 2**62  # an epoch second after every other

# (start minute, end minute, breaks as (start minute, end minute)) of one working period
Period = tuple[int, int, tuple[tuple[int, int], ...]]
Week = dict[int, tuple[Period, ...]]  # weekday (0 = Monday) → its periods, by start


# ------------------------------------------------------------------------------ public types


@dataclass(frozen=True)
class Slot:
    start: dt.datetime  # aware, in the branch's zone
    end: dt.datetime
    staff_id: int
    branch_id: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "staff_id": self.staff_id,
            "branch_id": self.branch_id,
        }


@dataclass(frozen=True)
class StaffDay:
    date: dt.date
    working_periods: list[tuple[dt.datetime, dt.datetime]]  # breaks removed, within opening hours
    free_slots: list[Slot]
    available_minutes: int  # working minutes minus blocked and booked (occupied) minutes
    booked_minutes: int  # occupied minutes of active appointments within the working periods
    utilisation: float  # booked / (booked + available), 4 decimals; 0.0 without working time


# ------------------------------------------------------------------------------ public API


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
    in_the_way = _first_in_the_way(
        tenant_id=tenant.pk,
        staff_id=staff.pk,
        begin=_dt(begin),
        end=_dt(end),
        occupied=(_dt(begin - spec.before), _dt(end + spec.after)),
        exclude_appointment_id=exclude_appointment_id,
    )
    if in_the_way is not None and in_the_way[0] == _BLOCK:
        kind = TimeBlockKind(in_the_way[1]).label
        raise refuse(f"The staff member is not available then ({kind}).")
    if in_the_way is not None:
        raise SlotTaken(
            "The staff member already has an appointment at that time.",
            details={"staff_id": staff.pk, "start_time": start.isoformat()},
        )


_BLOCK, _APPOINTMENT = 0, 1


def _first_in_the_way(
    *,
    tenant_id: int,
    staff_id: int,
    begin: dt.datetime,
    end: dt.datetime,
    occupied: tuple[dt.datetime, dt.datetime],
    exclude_appointment_id: int | None,
) -> tuple[int, str] | None:
    """What keeps the staff member from `begin`–`end` (`occupied` with the service's buffers):
    (_BLOCK, the first time block's kind), else (_APPOINTMENT, "") for an active appointment,
    else None. Blocks and appointments in one round trip; the statement is written out because
    it runs on every booking and the ORM spent more Python compiling its union than the
    database spent answering it."""
    adapt = connection.ops.adapt_datetimefield_value
    params: list[Any] = [tenant_id, staff_id, adapt(end), adapt(begin)]
    params += [tenant_id, staff_id, adapt(occupied[1]), adapt(occupied[0])]
    exclude = ""
    if exclude_appointment_id is not None:
        exclude = " AND id <> %s"
        params.append(exclude_appointment_id)
    with connection.cursor() as cursor:
        cursor.execute(_IN_THE_WAY_SQL.format(exclude=exclude), params)
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), str(row[2]))


# The active statuses are written into the text, not passed as parameters: the prepared
# statement's generic plan can then match the partial index on active appointments
# (appointment_active_staff_idx) instead of reading every appointment of the tenant.
_ACTIVE_SQL = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)
_IN_THE_WAY_SQL = (
    f"SELECT {_BLOCK} AS what, start_time AS first, kind FROM {TimeBlock._meta.db_table}"  # noqa: S608 - our own table names and constants
    " WHERE tenant_id = %s AND staff_id = %s AND start_time < %s AND end_time > %s"
    f" UNION ALL SELECT {_APPOINTMENT}, occupied_start, '' FROM {Appointment._meta.db_table}"
    f" WHERE tenant_id = %s AND staff_id = %s AND status IN ({_ACTIVE_SQL})"
    " AND occupied_start < %s AND occupied_end > %s{exclude}"
    " ORDER BY 1, 2 LIMIT 1"
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
        Service.objects.filter(pk=service.pk)
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
    branch, service, staff member or skill bumps it (`bookings.signals`), so a cached entry is
    never read after a change — the booking path spends no query on them while they stay.

    Raises BranchNotFound, ServiceNotFound, StaffNotFound (also for another tenant's ids)."""
    # staff.selectors imports this module for the staff service's availability operations.
    from staff.selectors import service_get, staff_get

    version = _schedule_version(tenant.pk)
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
    level, rating and completed appointments descending, then id."""
    engine = _Engine.for_service(
        tenant=tenant,
        service=service,
        duration_minutes=duration_minutes,
        branch_ids=branch_ids,
        staff_id=None,
        now=now,
        exclude_appointment_id=None,
    )
    if not engine.staff:
        return []
    begin = _ts(_aware(start, tenant))
    engine.load_busy_between(begin, begin + engine.spec.duration)
    free = [rules for rules in engine.staff if engine.is_free(rules, begin)]
    if not free:
        return []
    completed = dict(
        Appointment.objects.for_tenant(tenant)
        .filter(staff_id__in=[rules.staff.pk for rules in free], status=AppointmentStatus.COMPLETED)
        .values("staff_id")
        .annotate(n=Count("pk"))
        .values_list("staff_id", "n")
    )
    free.sort(key=lambda r: (-r.skill, -r.staff.rating, -completed.get(r.staff.pk, 0), r.staff.pk))
    return [rules.staff for rules in free]


def schedule_cache_invalidate(*, tenant_id: int) -> None:
    """Forget the cached working hours of every staff member of the tenant.

    Call it on every write to working hours (skills and blocks are read fresh, but calling it
    for them is harmless). It bumps the tenant's schedule version at once and, inside a
    transaction, again on commit, so a reader that cached the old rows in between is dropped too.
    """
    _bump_version(tenant_id)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(partial(_bump_version, tenant_id))


# ------------------------------------------------------------------------------ engine


@dataclass(frozen=True)
class _Spec:
    """What is being booked: real seconds of the service and of its buffers."""

    duration: int
    before: int
    after: int

    @classmethod
    def of(cls, service: Service, duration_minutes: int | None) -> _Spec:
        minutes = service.duration_minutes if duration_minutes is None else duration_minutes
        if minutes < 1:
            raise ValueError("duration_minutes must be positive")
        return cls(
            duration=minutes * 60,
            before=service.buffer_before_minutes * 60,
            after=service.buffer_after_minutes * 60,
        )


@dataclass(frozen=True)
class _BranchRules:
    branch: Branch
    zone: ZoneInfo
    hours: WeekHours | None  # None: stored hours unreadable, treated as closed
    interval: int  # minutes
    notice: int  # minutes


@dataclass(frozen=True)
class _StaffRules:
    staff: Staff
    branch: _BranchRules
    skill: int
    week: Week


@dataclass(frozen=True)
class _Day:
    """One branch day for one set of working periods: what blocks and appointments don't change."""

    pieces: list[tuple[int, int]]  # bookable time: working periods - breaks, within opening hours
    candidates: list[tuple[int, dt.datetime, dt.datetime]]  # grid starts that fit: (ts, start, end)


class _Intervals:
    """Sorted, merged half-open [start, end) intervals of epoch seconds."""

    __slots__ = ("ends", "starts")

    def __init__(self, items: Iterable[tuple[int, int]] = ()) -> None:
        merged = _merge(items)
        self.starts = [start for start, _ in merged]
        self.ends = [end for _, end in merged]

    def overlaps(self, start: int, end: int) -> bool:
        index = bisect_right(self.ends, start)
        return index < len(self.starts) and self.starts[index] < end

    def pairs(self) -> list[tuple[int, int]]:
        return list(zip(self.starts, self.ends, strict=True))


class _Engine:
    """Availability of a fixed set of staff for one kind of booking, as of `now`."""

    def __init__(
        self,
        *,
        tenant: Company,
        spec: _Spec,
        staff: list[_StaffRules],
        now: dt.datetime | None,
        exclude_appointment_id: int | None,
    ) -> None:
        self.tenant = tenant
        self.spec = spec
        self.staff = staff
        self.now_ts = _ts(now or timezone.now())
        self.horizon_ts = self.now_ts + _window_seconds()
        self.exclude_appointment_id = exclude_appointment_id
        self.blocks: dict[int, _Intervals] = {}
        self.busy: dict[int, _Intervals] = {}
        self._days: dict[tuple[int, dt.date, tuple[Period, ...]], _Day] = {}

    @classmethod
    def for_service(
        cls,
        *,
        tenant: Company,
        service: Service,
        duration_minutes: int | None,
        branch_ids: Sequence[int] | None,
        staff_id: int | None,
        now: dt.datetime | None,
        exclude_appointment_id: int | None,
    ) -> _Engine:
        spec = _Spec.of(service, duration_minutes)
        staff = _load_staff(
            tenant=tenant, service=service, branch_ids=branch_ids, staff_id=staff_id
        )
        return cls(
            tenant=tenant,
            spec=spec,
            staff=staff,
            now=now,
            exclude_appointment_id=exclude_appointment_id,
        )

    def first_instant_of(self, day: dt.date) -> int:
        """Epoch seconds of the earliest local midnight of `day` over the engine's branches."""
        zones = {rules.branch.zone for rules in self.staff} or {ZoneInfo("UTC")}
        return min(_wall_ts(day, 0, zone) for zone in zones)

    def load_busy(self, date_from: dt.date, date_to: dt.date) -> None:
        after_last = date_to + dt.timedelta(days=1)
        zones = {rules.branch.zone for rules in self.staff}
        begin = min((_wall_ts(date_from, 0, zone) for zone in zones), default=0)
        end = max((_wall_ts(after_last, 0, zone) for zone in zones), default=0)
        self.load_busy_between(begin, end)

    def load_busy_between(self, begin: int, end: int) -> None:
        """Blocks and occupied ranges of active appointments of every staff member that can
        matter to a booking inside [begin, end): one query each."""
        ids = [rules.staff.pk for rules in self.staff]
        blocks: dict[int, list[tuple[int, int]]] = defaultdict(list)
        busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
        if ids:
            rows = TimeBlock.objects.for_tenant(self.tenant).filter(
                staff_id__in=ids, start_time__lt=_dt(end), end_time__gt=_dt(begin)
            )
            for staff_id, start, stop in _epochs(rows, "start_time", "end_time"):
                blocks[staff_id].append((start, stop))
            appointments = Appointment.objects.for_tenant(self.tenant).filter(
                staff_id__in=ids,
                status__in=ACTIVE_STATUSES,
                occupied_start__lt=_dt(end + self.spec.after),
                occupied_end__gt=_dt(begin - self.spec.before),
            )
            if self.exclude_appointment_id is not None:
                appointments = appointments.exclude(pk=self.exclude_appointment_id)
            for staff_id, start, stop in _epochs(appointments, "occupied_start", "occupied_end"):
                busy[staff_id].append((start, stop))
        self.blocks = {pk: _Intervals(blocks[pk]) for pk in ids}
        self.busy = {pk: _Intervals(busy[pk]) for pk in ids}

    def slots(self, date_from: dt.date, date_to: dt.date) -> list[Slot]:
        if not self.staff or date_to < date_from:
            return []
        self.load_busy(date_from, date_to)
        found = [
            item
            for rules in self.staff
            for day in _dates(date_from, date_to)
            for item in self._free(rules, day)
        ]
        found.sort(key=_first_two)
        return [slot for _, _, slot in found]

    def day_slots(self, rules: _StaffRules, day: dt.date) -> list[Slot]:
        """Free grid slots of one staff member on one local date (busy intervals loaded)."""
        return [slot for _, _, slot in self._free(rules, day)]

    def _free(self, rules: _StaffRules, day: dt.date) -> list[tuple[int, int, Slot]]:
        """(epoch start, staff id, slot) of the free grid slots of a staff member's day."""
        periods = rules.week.get(day.weekday())
        if not periods:
            return []
        earliest = self.now_ts + rules.branch.notice * 60
        blocks, busy = self.blocks[rules.staff.pk], self.busy[rules.staff.pk]
        duration, before, after = self.spec.duration, self.spec.before, self.spec.after
        staff_id, branch_id = rules.staff.pk, rules.branch.branch.pk
        return [
            (begin, staff_id, Slot(start=start, end=end, staff_id=staff_id, branch_id=branch_id))
            for begin, start, end in self.day(rules.branch, periods, day).candidates
            if earliest <= begin <= self.horizon_ts
            and not blocks.overlaps(begin, begin + duration)
            and not busy.overlaps(begin - before, begin + duration + after)
        ]

    def is_free(self, rules: _StaffRules, begin: int) -> bool:
        """Whether the staff member can take the booking from `begin` (any minute)."""
        if not self.now_ts + rules.branch.notice * 60 <= begin <= self.horizon_ts:
            return False
        day = dt.datetime.fromtimestamp(begin, rules.branch.zone).date()
        periods = rules.week.get(day.weekday(), ())
        end = begin + self.spec.duration
        return (
            _fits(self.day(rules.branch, periods, day).pieces, begin, end)
            and not self.blocks[rules.staff.pk].overlaps(begin, end)
            and not self.busy[rules.staff.pk].overlaps(
                begin - self.spec.before, end + self.spec.after
            )
        )

    def day(self, branch: _BranchRules, periods: tuple[Period, ...], day: dt.date) -> _Day:
        """The bookable pieces and fitting grid starts of a day, shared by every staff member
        of the branch with the same working periods."""
        key = (branch.branch.pk, day, periods)
        cached = self._days.get(key)
        if cached is None:
            cached = self._days[key] = self._build_day(branch, periods, day)
        return cached

    def _build_day(self, branch: _BranchRules, periods: tuple[Period, ...], day: dt.date) -> _Day:
        zone = branch.zone
        pieces = _working_intervals(branch, periods, day, cut_breaks=True)
        if not pieces:
            return _Day(pieces=[], candidates=[])
        step = branch.interval
        candidates: dict[int, tuple[int, dt.datetime, dt.datetime]] = {}
        for period_start, period_end, _ in periods:
            for minute in range(period_start, period_end, step):
                begin = _wall_ts(day, minute, zone)  # fold=0: the first of a repeated time
                start = _local(begin, zone)
                if start.date() != day or _minute(start.time()) != minute:
                    continue  # in the spring-forward gap: this wall time does not exist
                end = begin + self.spec.duration
                if begin not in candidates and _fits(pieces, begin, end):
                    candidates[begin] = (begin, start, _local(end, zone))
        return _Day(pieces=pieces, candidates=[candidates[key] for key in sorted(candidates)])


# ------------------------------------------------------------------------------ loading


def _load_staff(
    *,
    tenant: Company,
    service: Service,
    branch_ids: Sequence[int] | None,
    staff_id: int | None,
) -> list[_StaffRules]:
    """Active, qualified staff of the active branches offering the service: two queries, plus
    one for working hours not in the cache."""
    if service.tenant_id != tenant.pk or not service.is_active:
        return []
    through = Service.branches.through
    rows = list(
        Branch.objects.for_tenant(tenant).annotate(
            offers=Exists(through.objects.filter(service_id=service.pk, branch_id=OuterRef("pk")))
        )
    )
    restricted = any(branch.offers for branch in rows)
    wanted = None if branch_ids is None else set(branch_ids)
    branches = {
        branch.pk: _branch_rules(branch)
        for branch in rows
        if branch.is_active
        and (wanted is None or branch.pk in wanted)
        and (branch.offers or not restricted)
    }
    if not branches:
        return []
    skills = (
        StaffService.objects.for_tenant(tenant)
        .filter(service=service, staff__is_active=True, staff__branch_id__in=list(branches))
        .select_related("staff")
        .order_by("staff_id")
    )
    if staff_id is not None:
        skills = skills.filter(staff_id=staff_id)
    pairs = [(skill.staff, skill.skill_level) for skill in skills]
    weeks = _schedules(tenant.pk, [staff.pk for staff, _ in pairs])
    return [
        _StaffRules(
            staff=staff, branch=branches[staff.branch_id], skill=level, week=weeks[staff.pk]
        )
        for staff, level in pairs
    ]


def _branch_rules(branch: Branch) -> _BranchRules:
    try:
        hours: WeekHours | None = parse_business_hours(branch.business_hours)
    except ValidationError:
        logger.warning("branch %s has unreadable business hours; treated as closed", branch.pk)
        hours = None
    branch_settings = branch.settings if isinstance(branch.settings, dict) else {}
    return _BranchRules(
        branch=branch,
        zone=_zone(branch.time_zone),
        hours=hours,
        interval=_setting(branch_settings, "slot_interval_minutes", DEFAULT_SLOT_INTERVAL, 5),
        notice=_setting(branch_settings, "min_notice_minutes", DEFAULT_MIN_NOTICE, 0),
    )


def _setting(values: dict[str, Any], key: str, default: int, lowest: int) -> int:
    value = values.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= 525_600:
        return default
    return value


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r; using %s", name, settings.TIME_ZONE)
        return ZoneInfo(settings.TIME_ZONE)


# ------------------------------------------------------------------------------ schedule cache


def _version_key(tenant_id: int) -> str:
    return f"availability:schedule-version:{tenant_id}"


def _schedule_key(tenant_id: int, version: int, staff_id: int) -> str:
    return f"availability:schedule:{tenant_id}:{version}:{staff_id}"


def _schedule_version(tenant_id: int) -> int | None:
    """The tenant's schedule version, None when the cache is unreachable (then it is bypassed).

    A missing version starts at the current time in nanoseconds, so it can never return to a
    number under which rows from before an eviction are still cached.
    """
    key = _version_key(tenant_id)
    value = cache.get(key)
    if value is None:
        cache.add(key, time.time_ns(), None)
        value = cache.get(key)
    return value if isinstance(value, int) else None


def _bump_version(tenant_id: int) -> None:
    key = _version_key(tenant_id)
    try:
        cache.incr(key)
    except ValueError:  # no version yet: any fresh one invalidates nothing and is safe
        cache.set(key, time.time_ns(), None)


def _schedules(tenant_id: int, staff_ids: list[int]) -> dict[int, Week]:
    """Working hours of each staff member, from the cache or one query for the missing ones.

    Cached as JSON: [[weekday, start minute, end minute, [[break start, break end], ...]], ...].
    """
    version = _schedule_version(tenant_id) if staff_ids else None
    keys = (
        {} if version is None else {pk: _schedule_key(tenant_id, version, pk) for pk in staff_ids}
    )
    cached: dict[str, Any] = cache.get_many(list(keys.values())) if keys else {}
    rows: dict[int, list[list[Any]]] = {}
    missing = []
    for pk in staff_ids:
        value = cached.get(keys[pk]) if keys else None
        if isinstance(value, list):
            rows[pk] = value
        else:
            missing.append(pk)
    if missing:
        loaded: dict[int, list[list[Any]]] = {pk: [] for pk in missing}
        hours = WorkingHours.objects.for_tenant(tenant_id).filter(staff_id__in=missing)
        for staff_id, weekday, start, end, breaks in hours.values_list(
            "staff_id", "weekday", "start_time", "end_time", "breaks"
        ):
            loaded[staff_id].append([weekday, _minute(start), _minute(end), _breaks(breaks)])
        rows.update(loaded)
        if keys:
            cache.set_many(
                {keys[pk]: loaded[pk] for pk in missing}, settings.MCP_STAFF_SCHEDULE_CACHE_TTL
            )
    return {pk: _week(rows[pk]) for pk in staff_ids}


def _week(rows: list[list[Any]]) -> Week:
    week: dict[int, list[Period]] = defaultdict(list)
    for weekday, start, end, breaks in rows:
        week[weekday].append((start, end, tuple(sorted((s, e) for s, e in breaks))))
    return {weekday: tuple(sorted(periods)) for weekday, periods in week.items()}


def _breaks(raw: Any) -> list[list[int]]:
    """Breaks as [start minute, end minute]; malformed entries (refused on write) are skipped."""
    result = []
    for item in raw if isinstance(raw, list) else []:
        try:
            start, end = _minute(parse_hh_mm(item["start"])), _minute(parse_hh_mm(item["end"]))
        except (TypeError, KeyError, ValueError):
            continue
        if start < end:
            result.append([start, end])
    return result


# ------------------------------------------------------------------------------ time and intervals


def _opening_minutes(branch: _BranchRules, day: dt.date) -> tuple[int, int] | None:
    hours = branch.hours.for_date(day) if branch.hours is not None else None
    if hours is None or not hours.is_open or hours.open is None or hours.close is None:
        return None
    return _minute(hours.open), _minute(hours.close)


def _working_intervals(
    branch: _BranchRules, periods: Iterable[Period], day: dt.date, *, cut_breaks: bool
) -> list[tuple[int, int]]:
    """Working periods of the day within opening hours as merged epoch-second intervals,
    with the breaks cut out when `cut_breaks`."""
    opening = _opening_minutes(branch, day)
    if opening is None:
        return []
    pieces: list[tuple[int, int]] = []
    for start, end, breaks in periods:
        cursor = start
        for break_start, break_end in breaks if cut_breaks else ():
            pieces.append((cursor, break_start))
            cursor = max(cursor, break_end)
        pieces.append((cursor, end))
    clipped = [
        (max(start, opening[0]), min(end, opening[1]))
        for start, end in pieces
        if max(start, opening[0]) < min(end, opening[1])
    ]
    return _merge(
        (_wall_ts(day, start, branch.zone), _wall_ts(day, end, branch.zone))
        for start, end in clipped
    )


def _merge(items: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(items):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _fits(pieces: list[tuple[int, int]], begin: int, end: int) -> bool:
    """Whether [begin, end) lies inside one of the merged, sorted pieces."""
    index = bisect_right(pieces, (begin, _NEVER)) - 1
    return index >= 0 and pieces[index][1] >= end


def _length(pieces: list[tuple[int, int]]) -> int:
    return sum(end - start for start, end in pieces)


def _overlap_length(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    """Seconds covered by both lists of merged, sorted intervals (a sweep)."""
    total, i, j = 0, 0, 0
    while i < len(a) and j < len(b):
        total += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _dates(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    for offset in range((last - first).days + 1):
        yield first + dt.timedelta(days=offset)


def _minute(value: dt.time) -> int:
    return value.hour * 60 + value.minute


def _wall_ts(day: dt.date, minute: int, zone: ZoneInfo) -> int:
    """Epoch seconds of a local wall time (fold=0: the first of a repeated time; a time in the
    gap is read with the offset before it)."""
    wall = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
    return _ts(wall)


def _ts(value: dt.datetime) -> int:
    return int(value.timestamp())


class _EpochSeconds(Func):
    """A datetime column as whole seconds since 1970, computed by the database (PostgreSQL or
    SQLite): reading thousands of datetimes through the driver costs more than the search."""

    output_field = BigIntegerField()

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> _AsSqlType:
        template = "ROUND(EXTRACT(EPOCH FROM %(expressions)s))::bigint"
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> _AsSqlType:
        template = "CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def _epochs(rows: QuerySet[Any], start: str, end: str) -> Iterable[tuple[int, int, int]]:
    """(staff id, start, end) of each row, times as epoch seconds."""
    epochs = rows.annotate(epoch_start=_EpochSeconds(start), epoch_end=_EpochSeconds(end))
    values: Iterable[tuple[int, int, int]] = epochs.values_list(
        "staff_id", "epoch_start", "epoch_end"
    )
    return values


def _dt(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _local(ts: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, zone)


def _aware(value: dt.datetime, tenant: Company, zone: ZoneInfo | None = None) -> dt.datetime:
    """A naive datetime is read in `zone`, else in the tenant's zone."""
    if timezone.is_aware(value):
        return value
    return value.replace(tzinfo=zone or _zone(tenant.time_zone))


def _window_seconds() -> int:
    return int(settings.MCP_BOOKING_MAX_ADVANCE_DAYS) * 86_400


def _slot_order(slot: Slot) -> tuple[int, int]:
    return _ts(slot.start), slot.staff_id


def _first_two(item: tuple[int, int, Slot]) -> tuple[int, int]:
    return item[0], item[1]
