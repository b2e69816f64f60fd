"""Writes of the staff app: keyword-only, tenant first, actor second, one transaction, an audit
row for every change.

Every saved or deleted row of working hours, skills or time blocks bumps the tenant's schedule
version through `staff.signals` (at once and again when the transaction commits, so neither
this transaction nor a reader racing the commit keeps the old hours); the schedule's
`bulk_create`, which sends no signal, calls `schedule_version_bump` itself.

Staff knows nothing of appointments: the schedule and block writes that report the appointments
a change leaves outside the staff member's time are the bookings app's
(`bookings.services.staff`), which call these and never move or cancel an appointment.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from django.db import transaction
from django.utils import timezone

from mcp_core.audit import audit_record
from staff import selectors
from staff.enums import TimeBlockKind
from staff.errors import InvalidSchedule, InvalidStaffInput, ServiceNotFound, StaffNotFound
from staff.models import Service, Staff, StaffService, TimeBlock, WorkingHours
from staff.schedule import break_errors
from staff.schedule_version import schedule_version_bump
from staff.selectors import Period, WeekSchedule, normalised_breaks
from staff.status_events import emit_staff_status_changed
from tenants import policy
from tenants.enums import WEEKDAYS
from tenants.hours import parse_hh_mm
from tenants.models import Branch, Company

Errors = dict[str, list[str]]

MAX_BLOCK_DAYS = 366
REASON_MAX_LENGTH = 255


def _locked_staff(tenant: Company, staff_id: int) -> Staff:
    """The staff row, locked: writes to one person's hours and skills run one after another."""
    staff = (
        Staff.objects.for_tenant(tenant)
        .select_for_update(of=("self",))
        .select_related("branch")
        .filter(pk=staff_id)
        .first()
    )
    if staff is None:
        raise StaffNotFound(details={"staff_id": staff_id})
    return staff


def staff_branch_room_check(*, tenant: Company, branch_id: int, staff_id: int | None) -> None:
    """Call inside the transaction that saves an active staff member at `branch_id` (new, moved
    there or made active again): locks the branch row, so two saves count one after another, and
    raises PlanLimitReached (TENANT_QUOTA_EXCEEDED) when the branch already has the plan's
    staff per branch, the member itself (`staff_id`) not counted."""
    branch = Branch.objects.for_tenant(tenant).select_for_update().filter(pk=branch_id)
    branch.values_list("pk", flat=True).first()  # takes the lock
    others = Staff.objects.for_tenant(tenant).filter(branch_id=branch_id, is_active=True)
    if staff_id is not None:
        others = others.exclude(pk=staff_id)
    policy.limit_check(tenant, "staff_per_branch", used=others.count())


# ---------------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class ScheduleUpdate:
    staff: Staff  # locked, with its branch
    schedule: WeekSchedule


@transaction.atomic
def staff_schedule_update(
    *,
    tenant: Company,
    actor: str,
    staff_id: int,
    schedule: Mapping[str, Any],
) -> ScheduleUpdate:
    """Replace a staff member's weekly working hours with `schedule`.

    `schedule` maps weekday names ("monday" … "sunday") to lists of
    {"start": "HH:MM", "end": "HH:MM", "breaks": [{"start", "end"}]} in the branch's local
    time; a day left out is a day off. Raises StaffNotFound (also for another tenant's id) and
    InvalidSchedule (details: "schedule.monday.0.breaks" → messages) before anything is
    written. Writes a `staff.schedule_updated` audit row with the old and new week and bumps
    the schedule version, both only when the week changed. Returns the new week.
    """
    week = _clean_schedule(schedule)
    staff = _locked_staff(tenant, staff_id)
    old = selectors.staff_week_schedule(tenant=tenant, staff=staff)
    if old != week:
        WorkingHours.objects.for_tenant(tenant).filter(staff=staff).delete()
        WorkingHours.objects.bulk_create(
            WorkingHours(
                tenant=tenant,
                staff=staff,
                weekday=weekday,
                start_time=period.start,
                end_time=period.end,
                breaks=[{"start": b_start, "end": b_end} for b_start, b_end in period.breaks],
            )
            for weekday, periods in enumerate(week.days)
            for period in periods
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action="staff.schedule_updated",
            obj=staff,
            changes={"schedule": [old.as_json(), week.as_json()]},
        )
        emit_staff_status_changed(
            tenant, staff_id=staff.pk, branch_id=staff.branch_id, change="schedule"
        )
        # bulk_create sends no post_save signal: drop the cached schedules here.
        schedule_version_bump(tenant_id=tenant.pk)
    return ScheduleUpdate(staff=staff, schedule=week)


def schedule_errors(schedule: Mapping[str, Any]) -> Errors:
    """What `staff_schedule_update` would refuse in `schedule` (field path → messages), without
    writing: the staff page's working-hours rows check with it before they save."""
    try:
        _clean_schedule(schedule)
    except InvalidSchedule as exc:
        return dict(exc.details or {})
    return {}


def _clean_schedule(schedule: Any) -> WeekSchedule:
    """The week as validated periods; raises InvalidSchedule with every problem by field path."""
    if not isinstance(schedule, Mapping):
        raise InvalidSchedule(details={"schedule": ["Must be an object keyed by weekday name."]})
    errors: Errors = {}
    days: list[list[Period]] = [[] for _ in WEEKDAYS]
    for day, periods in schedule.items():
        path = f"schedule.{day}"
        if day not in WEEKDAYS:
            errors[path] = [f"Unknown weekday; use one of {', '.join(WEEKDAYS)}."]
        elif periods is None:
            continue
        elif not isinstance(periods, Sequence) or isinstance(periods, str):
            errors[path] = ["Must be a list of {start, end, breaks}."]
        else:
            days[WEEKDAYS.index(day)] = _clean_day(path, periods, errors)
    if errors:
        raise InvalidSchedule(details=errors)
    return WeekSchedule(days=tuple(tuple(periods) for periods in days))


def _clean_day(path: str, periods: Sequence[Any], errors: Errors) -> list[Period]:
    cleaned: list[Period] = []
    for index, raw in enumerate(periods):
        item = f"{path}.{index}"
        if not isinstance(raw, Mapping):
            errors[item] = ["Must be an object {start, end, breaks}."]
            continue
        unknown = sorted(str(key) for key in raw if key not in ("start", "end", "breaks"))
        if unknown:
            errors[item] = [f"Unknown field(s): {', '.join(unknown)}."]
        start = _clean_time(raw.get("start"), f"{item}.start", errors)
        end = _clean_time(raw.get("end"), f"{item}.end", errors)
        breaks = raw.get("breaks") or []
        if start is None or end is None:
            continue
        if end <= start:
            errors[f"{item}.end"] = ["Must be after start."]
            continue
        if messages := break_errors(start, end, breaks):
            errors[f"{item}.breaks"] = messages
            continue
        cleaned.append(Period(start=start, end=end, breaks=normalised_breaks(breaks)))
    cleaned.sort(key=lambda period: period.start)
    for first, second in pairwise(cleaned):
        if second.start < first.end:
            errors.setdefault(path, []).append(
                f"Working periods {first.label()} and {second.label()} overlap."
            )
    return cleaned


def _clean_time(value: Any, path: str, errors: Errors) -> dt.time | None:
    if value is None:
        errors[path] = ["Required, as HH:MM."]
        return None
    try:
        return parse_hh_mm(value)
    except ValueError as exc:
        errors[path] = [str(exc)]
        return None


# -------------------------------------------------------------------------------- skills


def _clean_skill_level(value: Any, path: str, errors: Errors) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        errors[path] = ["Must be a whole number from 1 to 5."]
        return 0
    return value


def _upsert_skills(
    *,
    tenant: Company,
    actor: str,
    staff: Staff,
    levels: Mapping[int, int],
    paths: Mapping[int, str],
    action: str,
) -> None:
    """Create or update the staff member's skill for each service id → level; `paths` names
    each service id's input field for error details.

    Raises ServiceNotFound for ids that are not the tenant's and InvalidStaffInput when the
    staff member's branch does not offer a service (a service with no branches is offered
    everywhere).
    """
    services = {
        service.pk: service
        for service in Service.objects.for_tenant(tenant)
        .filter(pk__in=levels)
        .prefetch_related("branches")
    }
    missing = [service_id for service_id in levels if service_id not in services]
    if missing:
        raise ServiceNotFound(
            f"No service with id {', '.join(map(str, missing))}.",
            details={paths[service_id]: service_id for service_id in missing},
        )
    errors: Errors = {}
    for service_id, service in services.items():
        branch_ids = {branch.pk for branch in service.branches.all()}
        if branch_ids and staff.branch_id not in branch_ids:
            errors[paths[service_id]] = [
                f"'{service.name}' is not offered at the staff member's branch."
            ]
    if errors:
        raise InvalidStaffInput(
            "The staff member's branch does not offer every service.", details=errors
        )
    current = {
        skill.service_id: skill
        for skill in StaffService.objects.for_tenant(tenant).filter(
            staff=staff, service_id__in=levels
        )
    }
    diff: dict[str, list[int | None]] = {}
    for service_id, level in levels.items():
        skill = current.get(service_id)
        if skill is None:
            StaffService.objects.create(
                tenant=tenant, staff=staff, service_id=service_id, skill_level=level
            )
            diff[str(service_id)] = [None, level]
        elif skill.skill_level != level:
            diff[str(service_id)] = [skill.skill_level, level]
            skill.skill_level = level
            skill.save(update_fields=["skill_level"])
    if diff:
        audit_record(
            tenant=tenant, actor=actor, action=action, obj=staff, changes={"skill_level": diff}
        )


@transaction.atomic
def staff_service_assign(
    *, tenant: Company, actor: str, staff_id: int, service_id: int, skill_level: int = 3
) -> Staff:
    """Qualify a staff member for a service at `skill_level` (1–5); re-assigning updates the
    level, assigning again at the same level changes nothing.

    Raises StaffNotFound, ServiceNotFound (also for another tenant's ids), InvalidStaffInput
    for a level outside 1–5 or a service not offered at the staff member's branch. Writes a
    `staff.service_assigned` audit row ({"skill_level": {service id: [old, new]}}) and clears
    the schedule cache, both only when something changed.
    """
    errors: Errors = {}
    level = _clean_skill_level(skill_level, "skill_level", errors)
    if errors:
        raise InvalidStaffInput(details=errors)
    staff = _locked_staff(tenant, staff_id)
    _upsert_skills(
        tenant=tenant,
        actor=actor,
        staff=staff,
        levels={service_id: level},
        paths={service_id: "service_id"},
        action="staff.service_assigned",
    )
    return staff


@transaction.atomic
def staff_skills_update(
    *, tenant: Company, actor: str, staff_id: int, skills: Sequence[Mapping[str, Any]]
) -> Staff:
    """Set the skill level of each listed service ([{service_id, skill_level}]); a service the
    staff member is not qualified for yet is added, unlisted ones keep their level.

    Raises StaffNotFound, ServiceNotFound (details: "skills.0.service_id" → id) for ids that
    are not the tenant's, InvalidStaffInput (details: "skills.1.skill_level" → messages) for
    levels outside 1–5, a service listed twice or one not offered at the staff member's branch.
    Nothing is written unless every entry is valid. Writes a `staff.skills_updated` audit row
    and clears the schedule cache, both only when something changed.
    """
    errors: Errors = {}
    levels: dict[int, int] = {}
    paths: dict[int, str] = {}
    if not skills:
        errors["skills"] = ["List at least one {service_id, skill_level}."]
    for index, entry in enumerate(skills):
        path = f"skills.{index}"
        service_id = entry.get("service_id")
        if isinstance(service_id, bool) or not isinstance(service_id, int):
            errors[f"{path}.service_id"] = ["Must be a service id."]
            continue
        if service_id in levels:
            errors[f"{path}.service_id"] = [f"Service {service_id} is listed twice."]
            continue
        paths[service_id] = f"{path}.service_id"
        levels[service_id] = _clean_skill_level(
            entry.get("skill_level"), f"{path}.skill_level", errors
        )
    if errors:
        raise InvalidStaffInput(details=errors)
    staff = _locked_staff(tenant, staff_id)
    _upsert_skills(
        tenant=tenant,
        actor=actor,
        staff=staff,
        levels=levels,
        paths=paths,
        action="staff.skills_updated",
    )
    return staff


# ----------------------------------------------------------------------------- time blocks


@dataclass(frozen=True)
class BlockResult:
    time_block: TimeBlock  # with its staff member (locked) and their branch


@transaction.atomic
def staff_time_block(
    *,
    tenant: Company,
    actor: str,
    staff_id: int,
    start_time: dt.datetime,
    end_time: dt.datetime,
    kind: str = TimeBlockKind.MANUAL,
    reason: str = "",
) -> BlockResult:
    """Make a staff member unbookable from `start_time` to `end_time` (naive values are read
    in the branch's time zone).

    Raises StaffNotFound and InvalidStaffInput (details: field → messages) for an end not after
    the start, a block longer than MAX_BLOCK_DAYS days, an unknown kind or a reason over 255
    characters. Writes a `staff.time_blocked` audit row; the new row bumps the schedule version
    (`staff.signals`). Returns the block.
    """
    staff = _locked_staff(tenant, staff_id)
    zone = zoneinfo.ZoneInfo(staff.branch.time_zone)
    start, end = (
        value if timezone.is_aware(value) else value.replace(tzinfo=zone)
        for value in (start_time, end_time)
    )
    reason = reason.strip()
    errors: Errors = {}
    if end <= start:
        errors["end_time"] = ["Must be after start_time."]
    elif end - start > dt.timedelta(days=MAX_BLOCK_DAYS):
        errors["end_time"] = [f"A block may last at most {MAX_BLOCK_DAYS} days."]
    if kind not in TimeBlockKind.values:
        errors["kind"] = [f"Use one of {', '.join(TimeBlockKind.values)}."]
    if len(reason) > REASON_MAX_LENGTH:
        errors["reason"] = [f"At most {REASON_MAX_LENGTH} characters."]
    if errors:
        raise InvalidStaffInput(details=errors)
    block = TimeBlock.objects.create(
        tenant=tenant, staff=staff, start_time=start, end_time=end, kind=kind, reason=reason
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="staff.time_blocked",
        obj=block,
        changes={
            "staff_id": staff.pk,
            "start_time": start.isoformat(),
            "end_time": end.isoformat(),
            "kind": kind,
        },
    )
    emit_staff_status_changed(
        tenant,
        staff_id=staff.pk,
        branch_id=staff.branch_id,
        change="time_blocked",
        kind=kind,
        start_time=start.isoformat(),
        end_time=end.isoformat(),
    )
    return BlockResult(time_block=block)
