"""The availability engine: the free time of a fixed set of staff for one kind of booking
(`_Engine`), from the rules (`rules`) and the blocks and appointments it loads in one query
each; the interval arithmetic is `timeline`'s."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from bookings.availability.rules import (
    _BranchRules,
    _load_staff,
    _Spec,
    _StaffRules,
    _window_seconds,
    _working_intervals,
)
from bookings.availability.timeline import (
    Period,
    _dates,
    _dt,
    _fits,
    _grid,
    _Intervals,
    _ts,
    _wall_ts,
)
from bookings.queries import BY_BLOCK, busy_between
from staff.models import Service
from tenants.models import Company

if TYPE_CHECKING:
    pass


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
        self._pieces: dict[tuple[int, dt.date, tuple[Period, ...]], list[tuple[int, int]]] = {}

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
        matter to a booking inside [begin, end): one statement."""
        ids = [rules.staff.pk for rules in self.staff]
        blocks: dict[int, list[tuple[int, int]]] = defaultdict(list)
        busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
        if ids:
            rows = busy_between(
                tenant_id=self.tenant.pk,
                staff_ids=ids,
                begin=_dt(begin),
                end=_dt(end),
                occupied=(_dt(begin - self.spec.before), _dt(end + self.spec.after)),
                exclude_appointment_id=self.exclude_appointment_id,
            )
            for what, staff_id, start, stop in rows:
                (blocks if what == BY_BLOCK else busy)[staff_id].append((start, stop))
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

    def fits(self, rules: _StaffRules, begin: int) -> bool:
        """Whether the booking from `begin` (any minute) keeps the staff member's rules: notice,
        booking window, opening hours, working periods and breaks. Blocks and appointments are
        not looked at (`bookings.queries.staff_in_the_way` asks for those of all at once)."""
        if not self.now_ts + rules.branch.notice * 60 <= begin <= self.horizon_ts:
            return False
        day = dt.datetime.fromtimestamp(begin, rules.branch.zone).date()
        periods = rules.week.get(day.weekday(), ())
        return _fits(self.pieces(rules.branch, periods, day), begin, begin + self.spec.duration)

    def day(self, branch: _BranchRules, periods: tuple[Period, ...], day: dt.date) -> _Day:
        """The bookable pieces and fitting grid starts of a day, shared by every staff member
        of the branch with the same working periods."""
        key = (branch.branch.pk, day, periods)
        cached = self._days.get(key)
        if cached is None:
            pieces = self.pieces(branch, periods, day)
            candidates = (
                _grid(
                    day=day,
                    periods=periods,
                    step=branch.interval,
                    zone=branch.zone,
                    duration=self.spec.duration,
                    pieces=pieces,
                )
                if pieces
                else []
            )
            cached = self._days[key] = _Day(pieces=pieces, candidates=candidates)
        return cached

    def pieces(
        self, branch: _BranchRules, periods: tuple[Period, ...], day: dt.date
    ) -> list[tuple[int, int]]:
        """The bookable time of a day (working periods without breaks, within opening hours):
        all a start at any minute needs, without the day's grid."""
        key = (branch.branch.pk, day, periods)
        cached = self._pieces.get(key)
        if cached is None:
            cached = self._pieces[key] = _working_intervals(branch, periods, day, cut_breaks=True)
        return cached


def _slot_order(slot: Slot) -> tuple[int, int]:
    return _ts(slot.start), slot.staff_id


def _first_two(item: tuple[int, int, Slot]) -> tuple[int, int]:
    return item[0], item[1]
