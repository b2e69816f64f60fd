"""Working hours of staff members as the engine reads them, cached per staff member.

Cached in the shared cache under the tenant's schedule version (`staff.schedule_version`), which
every write to working hours bumps (and every other write to what a schedule is made of), so a
cached week is never read after a change. A cache that cannot be reached is bypassed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.cache import cache

from bookings.availability.timeline import Period, Week, _minute
from staff.models import WorkingHours
from staff.schedule_version import schedule_version
from tenants.hours import parse_hh_mm


def _schedule_key(tenant_id: int, version: int, staff_id: int) -> str:
    return f"availability:schedule:{tenant_id}:{version}:{staff_id}"


def _schedules(tenant_id: int, staff_ids: list[int]) -> dict[int, Week]:
    """Working hours of each staff member, from the cache or one query for the missing ones.

    Cached as JSON: [[weekday, start minute, end minute, [[break start, break end], ...]], ...].
    """
    version = schedule_version(tenant_id) if staff_ids else None
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
