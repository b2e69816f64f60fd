"""What the start page "Heute" shows for one branch: today's appointments per staff member,
today's calls, what needs attention, bookings per day and calls per hour.

A fixed number of queries, whatever the number of appointments or calls (bench/console_today.py);
the day's view is cached until the branch's next domain event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone, translation
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from bookings.enums import SmsStatus, SyncStatus
from bookings.models import Appointment, SmsMessage
from mcp_core.console.charts import Bar, bar_chart
from mcp_core.console.live import DataVersion
from mcp_core.console.timeline import timeline_html
from mcp_core.models import OutboxMessage, OutboxStatus
from routing.enums import CallOutcome
from routing.models import CallLog
from staff.models import Staff
from tenants.models import Branch, Company

CHART_DAYS = 30
ATTENTION_DAYS = 7  # failed SMS and calls without a booking older than this are history
DAY_START, DAY_END = 8, 20  # the timeline's hours unless an appointment lies outside them
UNANSWERED_OUTCOMES = (CallOutcome.NO_BOOKING, CallOutcome.FAILED)
# A safety net for changes that emit no event at the branch (a customer renamed).
CACHE_SECONDS = 120
# The bookings of past days (only a deleted appointment changes them).
PAST_DAYS_CACHE_SECONDS = 3600
# What the timeline shows of an appointment; the rest of the row stays in the database.
SLOT_FIELDS = (
    "id",
    "status",
    "start_time",
    "end_time",
    "staff",
    "staff__name",
    "customer",
    "customer__name",
    "customer__phone",
    "service",
    "service__name",
)


@dataclass(frozen=True)
class Slot:
    appointment: Appointment
    start: dt.datetime  # branch time
    end: dt.datetime
    left: float  # percent of the timeline
    width: float


@dataclass
class Lane:
    staff: Staff
    slots: list[Slot] = field(default_factory=list)


@dataclass(frozen=True)
class Attention:
    failed_syncs: int
    dead_messages: int
    failed_sms: int
    calls_without_booking: int

    @property
    def total(self) -> int:
        return self.failed_syncs + self.dead_messages + self.failed_sms + self.calls_without_booking


@dataclass(frozen=True)
class DayView:
    """What the branch's data shows today: cached per data version (mcp_core.console.live)."""

    timeline: SafeString
    calls: list[CallLog]
    bookings_chart: SafeString
    calls_chart: SafeString


@dataclass(frozen=True)
class TodayPage:
    branch: Branch
    day: dt.date
    now: dt.datetime  # branch time
    timeline: SafeString
    calls: list[CallLog]
    attention: Attention
    bookings_chart: SafeString
    calls_chart: SafeString


def _midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    # Midnight of each day on its own: a DST day is 23 or 25 hours long, not 24.
    return dt.datetime.combine(day, dt.time(0), zone)


def _lanes(
    staff: list[Staff], appointments: list[Appointment], zone: ZoneInfo
) -> tuple[list[int], list[Lane]]:
    local = [
        (a, timezone.localtime(a.start_time, zone), timezone.localtime(a.end_time, zone))
        for a in appointments
    ]
    first = min([DAY_START, *(start.hour for _a, start, _e in local)])
    last = max([DAY_END, *(end.hour + (1 if end.minute else 0) for _a, _s, end in local)])
    span = (last - first) * 60

    def percent(moment: dt.datetime) -> float:
        minutes = (moment.hour - first) * 60 + moment.minute
        return round(100 * min(max(minutes, 0), span) / span, 2)

    lanes = {member.pk: Lane(member) for member in staff}
    for appointment, start, end in local:
        lane = lanes.setdefault(appointment.staff_id, Lane(appointment.staff))
        left = percent(start)
        width = max(percent(end) - left, 0.5) if end.date() == start.date() else 100 - left
        lane.slots.append(Slot(appointment, start, end, left, width))
    return list(range(first, last)), list(lanes.values())


def _counts_per_range(rows: QuerySet[Any], field: str, edges: list[dt.datetime]) -> list[int]:
    """How many of `rows` have `field` in each [edges[i], edges[i + 1]), in one query. Plain
    range comparisons, not a time-zone function per row: the ranges carry the zone (a DST day
    is 23 or 25 hours), and the database reads the index range once."""
    counts = rows.aggregate(
        **{
            f"n{index}": Count("id", filter=Q(**{f"{field}__gte": low, f"{field}__lt": high}))
            for index, (low, high) in enumerate(itertools.pairwise(edges))
        }
    )
    return [counts[f"n{index}"] for index in range(len(edges) - 1)]


def _past_bookings(
    tenant: Company, branch: Branch, days: list[dt.date], zone: ZoneInfo
) -> list[int]:
    """Bookings made on each of `days` (all before today): a booking's creation time never
    changes, so the counts are kept for the day and only today's are counted on each view."""
    key = f"console:bookings-per-day:{tenant.pk}:{branch.pk}:{days[0]}:{days[-1]}"
    counts: list[int] | None = cache.get(key)
    if counts is None:
        edges = [_midnight(d, zone) for d in [*days, days[-1] + dt.timedelta(days=1)]]
        rows = Appointment.objects.for_tenant(tenant).filter(
            branch=branch, created_at__gte=edges[0], created_at__lt=edges[-1]
        )
        counts = _counts_per_range(rows, "created_at", edges)
        cache.set(key, counts, PAST_DAYS_CACHE_SECONDS)
    return counts


def _bookings_chart(tenant: Company, branch: Branch, day: dt.date, zone: ZoneInfo) -> SafeString:
    days = [day - dt.timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]
    today = (
        Appointment.objects.for_tenant(tenant)
        .filter(
            branch=branch,
            created_at__gte=_midnight(day, zone),
            created_at__lt=_midnight(day + dt.timedelta(days=1), zone),
        )
        .count()
    )
    counts = [*_past_bookings(tenant, branch, days[:-1], zone), today]
    bars = [
        Bar(
            label=f"{d:%d.}" if d.day % 5 == 0 else "",
            title=_("%(day)s: %(n)d bookings") % {"day": f"{d:%d.%m.}", "n": n},
            value=n,
        )
        for d, n in zip(days, counts, strict=True)
    ]
    return bar_chart(bars, caption=_("Bookings per day, last 30 days"))


def _calls_chart(calls_today: QuerySet[Any], day: dt.date, zone: ZoneInfo) -> SafeString:
    # Wall-clock hours; on a DST day one of them is missing or lasts two hours.
    midnight = _midnight(day, zone)
    edges = [
        (midnight.replace(tzinfo=None) + dt.timedelta(hours=hour)).replace(tzinfo=zone)
        for hour in range(24)
    ] + [_midnight(day + dt.timedelta(days=1), zone)]
    counts = _counts_per_range(calls_today, "started_at", edges)
    bars = [
        Bar(
            label=f"{hour}" if hour % 3 == 0 else "",
            title=_("%(hour)d:00: %(n)d calls") % {"hour": hour, "n": n},
            value=n,
        )
        for hour, n in enumerate(counts)
    ]
    return bar_chart(bars, caption=_("Calls per hour, today"))


def _day_view(
    tenant: Company, branch: Branch, staff: list[Staff], day: dt.date, zone: ZoneInfo
) -> DayView:
    begin, end = _midnight(day, zone), _midnight(day + dt.timedelta(days=1), zone)
    appointments = list(
        Appointment.objects.for_tenant(tenant)
        .filter(branch=branch, start_time__gte=begin, start_time__lt=end)
        .select_related("customer", "service", "staff")
        .only(*SLOT_FIELDS)
        .order_by("start_time")
    )
    hours, lanes = _lanes(staff, appointments, zone)
    calls_today = CallLog.objects.for_tenant(tenant).filter(
        branch=branch, started_at__gte=begin, started_at__lt=end
    )
    calls = list(
        calls_today.select_related("customer", "appointment")
        .defer("transcript", "analysis", "customer__notes", "appointment__notes")
        .order_by("-started_at")[:50]
    )
    return DayView(
        timeline=timeline_html(hours, lanes),
        calls=calls,
        bookings_chart=_bookings_chart(tenant, branch, day, zone),
        calls_chart=_calls_chart(calls_today, day, zone),
    )


def _cache_key(branch: Branch, day: dt.date, version: DataVersion, staff: list[Staff]) -> str:
    # The staff list is read fresh (a rename or a new colleague emits no event); the language
    # is the one the page is rendered in.
    roster = hashlib.blake2b(
        repr([(member.pk, member.name) for member in staff]).encode(), digest_size=8
    ).hexdigest()
    language = translation.get_language() or ""
    return (
        f"console:today:{branch.tenant_id}:{branch.pk}:{day.isoformat()}:{language}:"
        f"{version.event_id}:{roster}"
    )


def today_page(
    *,
    tenant: Company,
    branch: Branch,
    now: dt.datetime | None = None,
    version: DataVersion | None = None,
) -> TodayPage:
    """The page for `branch` today. With `version` (the branch's newest domain event, read
    before this call) the day's appointments, calls and charts come from the cache when
    nothing happened at the branch since they were read; the counts of what needs attention
    are always read fresh (a dead-lettered message or a failed SMS emits no event)."""
    zone = ZoneInfo(branch.time_zone)
    local_now = timezone.localtime(now or timezone.now(), zone)
    day = local_now.date()
    recent = local_now - dt.timedelta(days=ATTENTION_DAYS)

    staff = list(
        Staff.objects.for_tenant(tenant)
        .filter(branch=branch, is_active=True)
        .only("id", "name")
        .order_by("name")
    )
    key = _cache_key(branch, day, version, staff) if version is not None else None
    view: DayView | None = cache.get(key) if key is not None else None
    if view is None:
        view = _day_view(tenant, branch, staff, day, zone)
        if key is not None and version is not None and version.settled:
            cache.set(key, view, CACHE_SECONDS)
    attention = Attention(
        failed_syncs=Appointment.objects.for_tenant(tenant)
        .filter(branch=branch, sync_status=SyncStatus.FAILED)
        .count(),
        dead_messages=OutboxMessage.objects.for_tenant(tenant)
        .filter(status=OutboxStatus.DEAD)
        .count(),
        failed_sms=SmsMessage.objects.for_tenant(tenant)
        .filter(status__in=(SmsStatus.FAILED, SmsStatus.UNDELIVERED), created_at__gte=recent)
        .count(),
        calls_without_booking=CallLog.objects.for_tenant(tenant)
        .filter(
            branch=branch,
            outcome__in=UNANSWERED_OUTCOMES,
            appointment__isnull=True,
            started_at__gte=recent,
        )
        .count(),
    )
    return TodayPage(
        branch=branch,
        day=day,
        now=local_now,
        timeline=view.timeline,
        calls=view.calls,
        attention=attention,
        bookings_chart=view.bookings_chart,
        calls_chart=view.calls_chart,
    )
