"""Reads of the staff app. Tenant-owned rows are reached only through `for_tenant`.

Working hours are wall-clock times in the branch's time zone. The reads that need appointments
(availability, workload, performance, free staff) are the availability engine's, in
`bookings.availability`: staff knows nothing of bookings.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from common.pagination import Page, paginate
from staff.errors import ServiceNotFound, StaffNotFound
from staff.models import Service, Staff, StaffService, WorkingHours
from tenants.enums import WEEKDAYS
from tenants.hours import parse_hh_mm
from tenants.models import Branch, Company


def _with_skills(staff: QuerySet[Staff]) -> QuerySet[Staff]:
    return staff.select_related("branch").prefetch_related(
        Prefetch(
            "skills",
            # all_tenants: a prefetch reaches only the skills of the staff rows above.
            queryset=StaffService.objects.all_tenants()
            .select_related("service")
            .order_by("service__name", "service_id"),
        )
    )


def branch_zone(branch: Branch) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(branch.time_zone)


# ----------------------------------------------------------------------------- staff, service


def staff_get(*, tenant: Company, staff_id: int, with_skills: bool = True) -> Staff:
    """The staff member, with branch and skills unless `with_skills` is False (the booking
    path needs neither). Raises StaffNotFound, also for another tenant's id (which must not be
    told apart)."""
    staff_members: QuerySet[Staff] = Staff.objects.for_tenant(tenant)
    if with_skills:
        staff_members = _with_skills(staff_members)
    staff = staff_members.filter(pk=staff_id).first()
    if staff is None:
        raise StaffNotFound(details={"staff_id": staff_id})
    return staff


def service_get(*, tenant: Company, service_id: int) -> Service:
    """Raises ServiceNotFound, also for another tenant's id."""
    service = Service.objects.for_tenant(tenant).filter(pk=service_id).first()
    if service is None:
        raise ServiceNotFound(details={"service_id": service_id})
    return service


@dataclass(frozen=True)
class CatalogueEntry:
    """One service as the catalogue shows it: where it is offered and who performs it."""

    service: Service
    branch_ids: tuple[int, ...]
    staff_ids: tuple[int, ...]


def service_catalogue(
    *, tenant: Company, branch_id: int | None = None, active: bool | None = None
) -> list[CatalogueEntry]:
    """The tenant's services by name. A service with no branches of its own is offered at
    every branch of the tenant, so its `branch_ids` are all of them and a `branch_id` filter
    keeps it. `staff_ids` are the active staff qualified for it (at the filtered branch when
    given). Four queries, whatever the number of services."""
    services = Service.objects.for_tenant(tenant).order_by("name", "pk")
    if active is not None:
        services = services.filter(is_active=active)
    all_branch_ids = tuple(
        Branch.objects.for_tenant(tenant).order_by("pk").values_list("pk", flat=True)
    )
    own_branches: dict[int, list[int]] = {}
    for service_id, own_branch_id in Service.branches.through.objects.filter(
        service__in=services
    ).values_list("service_id", "branch_id"):
        own_branches.setdefault(service_id, []).append(own_branch_id)
    skills = StaffService.objects.for_tenant(tenant).filter(
        service__in=services, staff__is_active=True
    )
    if branch_id is not None:
        skills = skills.filter(staff__branch_id=branch_id)
    qualified: dict[int, list[int]] = {}
    for service_id, staff_id in skills.order_by("staff_id").values_list("service_id", "staff_id"):
        qualified.setdefault(service_id, []).append(staff_id)
    entries = []
    for service in services:
        offered = tuple(sorted(own_branches.get(service.pk, ()))) or all_branch_ids
        if branch_id is not None and branch_id not in offered:
            continue
        entries.append(
            CatalogueEntry(
                service=service,
                branch_ids=offered,
                staff_ids=tuple(qualified.get(service.pk, ())),
            )
        )
    return entries


def staff_list(
    *,
    tenant: Company,
    branch_id: int | None = None,
    service_id: int | None = None,
    active: bool | None = None,
) -> QuerySet[Staff]:
    """The tenant's staff by name, with branch and skills; filters combine."""
    staff = Staff.objects.for_tenant(tenant)
    if branch_id is not None:
        staff = staff.filter(branch_id=branch_id)
    if service_id is not None:
        staff = staff.filter(skills__service_id=service_id)
    if active is not None:
        staff = staff.filter(is_active=active)
    return _with_skills(staff.order_by("name", "pk"))


def staff_list_page(
    *,
    tenant: Company,
    branch_id: int | None = None,
    service_id: int | None = None,
    active: bool | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Page[Staff]:
    staff = staff_list(tenant=tenant, branch_id=branch_id, service_id=service_id, active=active)
    return paginate(staff, page=page, page_size=page_size)


def staff_by_ids(*, tenant: Company, staff_ids: list[int]) -> dict[int, Staff]:
    """The tenant's staff members with these ids, with branch and skills, by id (ids that are
    not the tenant's are left out)."""
    return {
        member.pk: member
        for member in _with_skills(Staff.objects.for_tenant(tenant).filter(pk__in=staff_ids))
    }


# ---------------------------------------------------------------------------- weekly schedule


@dataclass(frozen=True)
class Period:
    """One working period of a weekday with its breaks ("HH:MM" pairs, sorted)."""

    start: dt.time
    end: dt.time
    breaks: tuple[tuple[str, str], ...] = ()

    def label(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"

    def as_json(self) -> dict[str, Any]:
        return {
            "start": f"{self.start:%H:%M}",
            "end": f"{self.end:%H:%M}",
            "breaks": [{"start": start, "end": end} for start, end in self.breaks],
        }

    def holds(self, start: dt.time, end: dt.time) -> bool:
        """Whether start–end lies inside the period and touches none of its breaks."""
        if start < self.start or end > self.end:
            return False
        return all(
            end <= parse_hh_mm(b_start) or start >= parse_hh_mm(b_end)
            for b_start, b_end in self.breaks
        )


@dataclass(frozen=True)
class WeekSchedule:
    """Seven days, Monday first, each a tuple of periods sorted by start."""

    days: tuple[tuple[Period, ...], ...]

    def as_json(self) -> dict[str, list[dict[str, Any]]]:
        return {
            name: [period.as_json() for period in periods]
            for name, periods in zip(WEEKDAYS, self.days, strict=True)
        }


def normalised_breaks(raw: Any) -> tuple[tuple[str, str], ...]:
    """Stored or submitted breaks as sorted ("HH:MM", "HH:MM") pairs."""
    pairs = []
    for item in raw if isinstance(raw, list) else []:
        try:
            pairs.append(
                (f"{parse_hh_mm(item['start']):%H:%M}", f"{parse_hh_mm(item['end']):%H:%M}")
            )
        except (KeyError, TypeError, ValueError):
            continue  # the admin validates breaks; an unreadable one never blocks time
    return tuple(sorted(pairs))


def staff_week_schedule(*, tenant: Company, staff: Staff) -> WeekSchedule:
    days: list[list[Period]] = [[] for _ in WEEKDAYS]
    hours = (
        WorkingHours.objects.for_tenant(tenant)
        .filter(staff=staff)
        .order_by("weekday", "start_time")
    )
    for row in hours:
        days[row.weekday].append(
            Period(start=row.start_time, end=row.end_time, breaks=normalised_breaks(row.breaks))
        )
    return WeekSchedule(days=tuple(tuple(periods) for periods in days))
