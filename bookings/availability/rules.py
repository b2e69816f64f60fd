"""The rules the engine applies: what is booked (`_Spec`), a branch's hours, zone, grid and
notice (`_BranchRules`), and the qualified staff of a service with their weeks (`_StaffRules`),
loaded in a constant number of queries and kept per process under the schedule version."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone
from pydantic import ValidationError

from bookings.availability.schedules import _schedules
from bookings.availability.timeline import Period, Week, _merge, _minute, _wall_ts
from staff.models import Service, Staff, StaffService
from staff.schedule_version import schedule_version
from tenants.hours import WeekHours, parse_business_hours
from tenants.models import Branch, Company

logger = logging.getLogger(__name__)

DEFAULT_SLOT_INTERVAL = 30  # minutes
DEFAULT_MIN_NOTICE = 0  # minutes


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
