"""The availability engine: the rules of a branch and of its staff members, and the free time
of a fixed set of staff for one kind of booking (`_Engine`), loaded in a constant number of
queries."""

from __future__ import annotations

import datetime as dt
import logging
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import BigIntegerField, Exists, Func, OuterRef, QuerySet
from django.utils import timezone
from pydantic import ValidationError

from bookings.availability.schedules import Period, Week, _minute, _schedules
from bookings.enums import ACTIVE_STATUSES
from bookings.models import Appointment
from staff.models import Service, Staff, StaffService, TimeBlock
from staff.schedule_version import schedule_version
from tenants.hours import WeekHours, parse_business_hours
from tenants.models import Branch, Company

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------ time and intervals
# Times are whole epoch seconds (ints) inside the engine: cheap to compare, sort and bisect.
# A wall time is a local date with minutes since midnight, read in a zone with zoneinfo.

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType

_NEVER = 2**62  # an epoch second after every other


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


# ------------------------------------------------------------------ the engine

DEFAULT_SLOT_INTERVAL = 30  # minutes
DEFAULT_MIN_NOTICE = 0  # minutes


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


# Staff rules this process built lately, keyed by the tenant's schedule version, which every
# write to a branch, service, staff member, skill or working hours bumps (`staff.signals`), as
# `booking_subjects` keeps its subjects: a booking without a staff member then spends no query
# on who could do it. Callers only read them.
_rules_seen: dict[tuple[Any, ...], list[_StaffRules]] = {}
_RULES_SEEN_LIMIT = 256


def _load_staff(
    *,
    tenant: Company,
    service: Service,
    branch_ids: Sequence[int] | None,
    staff_id: int | None,
) -> list[_StaffRules]:
    """Active, qualified staff of the active branches offering the service: two queries, plus
    one for working hours not in the cache; none while the schedule version stays."""
    if service.tenant_id != tenant.pk or not service.is_active:
        return []
    version = schedule_version(tenant.pk)
    wanted = None if branch_ids is None else tuple(sorted(set(branch_ids)))
    key = (tenant.pk, version, service.pk, wanted, staff_id)
    if version is not None and key in _rules_seen:
        return list(_rules_seen[key])
    rules = _staff_rules(tenant=tenant, service=service, branch_ids=branch_ids, staff_id=staff_id)
    if version is not None:
        if len(_rules_seen) >= _RULES_SEEN_LIMIT:
            _rules_seen.clear()
        _rules_seen[key] = list(rules)
    return rules


def _staff_rules(
    *,
    tenant: Company,
    service: Service,
    branch_ids: Sequence[int] | None,
    staff_id: int | None,
) -> list[_StaffRules]:
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
