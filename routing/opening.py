"""Is a branch open at a given instant, and what are today's hours — in the branch's own zone.

Business hours are wall-clock times in `Branch.time_zone`; converting the instant to that zone
first makes the answer right across DST changes (09:00 is 07:00 UTC in summer, 08:00 in winter).
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from pydantic import ValidationError

from tenants.hours import DayHours, parse_business_hours
from tenants.models import Branch

logger = logging.getLogger(__name__)

FALLBACK_ZONE = "Europe/Berlin"


def branch_zone(branch: Branch) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(branch.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        logger.warning("branch %s has an unknown time zone %r", branch.pk, branch.time_zone)
        return zoneinfo.ZoneInfo(FALLBACK_ZONE)


def branch_local(branch: Branch, at: dt.datetime) -> dt.datetime:
    """The instant `at` as wall-clock time in the branch's zone."""
    return at.astimezone(branch_zone(branch))


def day_hours(branch: Branch, local: dt.datetime) -> DayHours:
    """The branch's hours for the local date; unreadable hours count as closed."""
    try:
        return parse_business_hours(branch.business_hours).for_date(local.date())
    except ValidationError:
        logger.warning("branch %s has unreadable business hours; treated as closed", branch.pk)
        return DayHours(is_open=False)


def branch_is_open(branch: Branch, at: dt.datetime) -> bool:
    """Open when active and `at` lies in [open, close) of that local day."""
    if not branch.is_active:
        return False
    local = branch_local(branch, at)
    hours = day_hours(branch, local)
    if not hours.is_open or hours.open is None or hours.close is None:
        return False
    return hours.open <= local.time() < hours.close


def opening_hours_today_de(branch: Branch, at: dt.datetime) -> str:
    """Today's hours as an agent says them: '09:00–18:00' or 'heute geschlossen'."""
    hours = day_hours(branch, branch_local(branch, at))
    if not branch.is_active or not hours.is_open or hours.open is None or hours.close is None:
        return "heute geschlossen"
    return f"{hours.open:%H:%M}–{hours.close:%H:%M}"
