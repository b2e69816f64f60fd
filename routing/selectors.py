"""Reads of the routing app. Every query is scoped with `for_tenant`, and each read is a fixed
number of queries however many branches, rules or calls a tenant has."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Avg, Count, Exists, OuterRef, Q
from django.db.models.functions import ExtractHour

from common.replica import reporting_read
from routing.enums import CallOutcome, CallStatus
from routing.errors import PhoneNumberNotFound
from routing.geo import Point, haversine_km
from routing.models import CallLog, PhoneNumber, RoutingRule
from routing.opening import branch_is_open
from routing.rules import RuleConditions
from staff.errors import ServiceNotFound
from staff.models import Service, StaffService
from tenants.errors import BranchNotFound
from tenants.models import Branch, Company

logger = logging.getLogger(__name__)

NEAREST_LIMIT = 5
# A call whose "ended" webhook never came must not count as ongoing for ever.
ONGOING_STALE_AFTER = dt.timedelta(hours=2)
HANDLE_TIME_WINDOW = dt.timedelta(days=7)


def full_address(branch: Branch) -> str:
    """'Friedrichstraße 123, 10117 Berlin' — the parts that are set."""
    town = " ".join(part for part in (branch.postal_code, branch.city) if part)
    return ", ".join(part for part in (branch.address, town) if part)


# ---------------------------------------------------------------------------- phone numbers


def phone_number_list(*, tenant: Company) -> list[PhoneNumber]:
    """The tenant's active numbers with their branches (one query)."""
    return list(
        PhoneNumber.objects.for_tenant(tenant)
        .filter(is_active=True)
        .select_related("branch")
        .order_by("pk")
    )


def phone_number_find(*, number: str) -> PhoneNumber | None:
    """The active number (E.164) of any tenant, with tenant and branch: for webhooks, which
    learn the tenant from the dialled number."""
    return (
        # all_tenants: the dialled number is how a webhook learns its tenant.
        PhoneNumber.objects.all_tenants()
        .filter(number=number, is_active=True)
        .select_related("tenant", "branch")
        .first()
    )


def phone_number_pick(numbers: list[PhoneNumber], number: str) -> PhoneNumber:
    """Raises PhoneNumberNotFound; another tenant's number is absent from `numbers`."""
    for candidate in numbers:
        if candidate.number == number:
            return candidate
    raise PhoneNumberNotFound(details={"phone_number": number})


# ------------------------------------------------------------------------------------ rules


def routing_rule_list(*, tenant: Company) -> list[RoutingRule]:
    """All rules in the order they are tried: priority, then the order they were written."""
    return list(RoutingRule.objects.for_tenant(tenant).order_by("priority", "pk"))


def rule_conditions(rule: RoutingRule) -> RuleConditions | None:
    """The rule's parsed conditions; None (and a warning) for unreadable stored JSON."""
    try:
        return RuleConditions.model_validate(rule.conditions or {})
    except ValueError:
        logger.warning("routing rule %s has unreadable conditions; skipped", rule.pk)
        return None


# --------------------------------------------------------------------------------- branches


def branch_active_list(*, tenant: Company) -> list[Branch]:
    return list(Branch.objects.for_tenant(tenant).filter(is_active=True).order_by("pk"))


@dataclass(frozen=True)
class NearbyBranch:
    branch: Branch
    distance_km: float
    available_now: bool


def branches_by_distance(
    branches: list[Branch], origin: Point, *, max_distance_km: float | None = None
) -> list[tuple[Branch, float]]:
    """Branches with coordinates, nearest first (ties by id), within the radius if given."""
    measured: list[tuple[Branch, float]] = []
    for branch in branches:
        point = Point.of(branch.latitude, branch.longitude)
        if point is None:
            continue
        distance = haversine_km(origin, point)
        if max_distance_km is None or distance <= max_distance_km:
            measured.append((branch, distance))
    measured.sort(key=lambda item: (item[1], item[0].pk))
    return measured


def branch_nearest_list(
    *,
    tenant: Company,
    origin: Point,
    max_distance_km: float,
    now: dt.datetime,
    service_id: int | None = None,
) -> list[NearbyBranch]:
    """At most NEAREST_LIMIT active branches within the radius, nearest first.

    With `service_id`, only branches where an active staff member is qualified for the
    service. Raises ServiceNotFound for a service of no (or another) tenant. Two queries.
    """
    branches = Branch.objects.for_tenant(tenant).filter(
        is_active=True, latitude__isnull=False, longitude__isnull=False
    )
    if service_id is not None:
        if not Service.objects.for_tenant(tenant).filter(pk=service_id).exists():
            raise ServiceNotFound(details={"service_id": service_id})
        qualified = StaffService.objects.for_tenant(tenant).filter(
            service_id=service_id, staff__is_active=True, staff__branch_id=OuterRef("pk")
        )
        branches = branches.filter(Exists(qualified))
    nearest = branches_by_distance(list(branches), origin, max_distance_km=max_distance_km)
    return [
        NearbyBranch(branch=branch, distance_km=distance, available_now=branch_is_open(branch, now))
        for branch, distance in nearest[:NEAREST_LIMIT]
    ]


# ------------------------------------------------------------------------------- call load


@dataclass(frozen=True)
class CallLoad:
    """Calls ongoing now per branch and the average handle time of recent ended calls."""

    ongoing: dict[int, int] = field(default_factory=dict)
    handle_seconds: dict[int, float] = field(default_factory=dict)
    tenant_handle_seconds: float | None = None

    def ongoing_at(self, branch_id: int) -> int:
        return self.ongoing.get(branch_id, 0)

    def average_handle_seconds(self, branch_id: int) -> float:
        """The branch's recent average, else the tenant's, else ROUTING_DEFAULT_HANDLE_SECONDS."""
        return self.handle_seconds.get(
            branch_id,
            self.tenant_handle_seconds or float(settings.ROUTING_DEFAULT_HANDLE_SECONDS),
        )


def call_load(*, tenant: Company, now: dt.datetime) -> CallLoad:
    """One aggregate query over the tenant's recent calls, grouped by branch."""
    ongoing_q = Q(status=CallStatus.ONGOING, started_at__gte=now - ONGOING_STALE_AFTER)
    ended_q = Q(
        status=CallStatus.ENDED,
        ended_at__gte=now - HANDLE_TIME_WINDOW,
        duration_seconds__gt=0,
    )
    rows = (
        CallLog.objects.for_tenant(tenant)
        .filter(ongoing_q | ended_q, branch__isnull=False)
        .values("branch_id")
        .annotate(
            ongoing=Count("pk", filter=ongoing_q),
            ended=Count("pk", filter=ended_q),
            handle=Avg("duration_seconds", filter=ended_q),
        )
        .order_by("branch_id")
    )
    ongoing: dict[int, int] = {}
    handle: dict[int, float] = {}
    total_seconds = 0.0
    total_ended = 0
    for row in rows:
        if row["ongoing"]:
            ongoing[row["branch_id"]] = row["ongoing"]
        if row["ended"] and row["handle"] is not None:
            handle[row["branch_id"]] = float(row["handle"])
            total_seconds += float(row["handle"]) * row["ended"]
            total_ended += row["ended"]
    return CallLoad(
        ongoing=ongoing,
        handle_seconds=handle,
        tenant_handle_seconds=total_seconds / total_ended if total_ended else None,
    )


def branch_capacity(branch: Branch) -> int:
    """How many calls a branch's agent lines take at once: branch setting
    `max_concurrent_calls`, else ROUTING_MAX_CONCURRENT_CALLS."""
    configured = (branch.settings or {}).get("max_concurrent_calls")
    if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
        return configured
    return int(settings.ROUTING_MAX_CONCURRENT_CALLS)


# -------------------------------------------------------------------------- call statistics


@dataclass(frozen=True)
class CallDistribution:
    total_calls: int
    by_branch: list[tuple[int | None, int]]
    by_hour: list[tuple[int, int]]
    by_outcome: dict[str, int]
    date_from: dt.date
    date_to: dt.date
    time_zone: str


def tenant_zone(tenant: Company) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(tenant.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Europe/Berlin")


def _branch_exists(tenant: Company, branch_id: int) -> bool:
    return Branch.objects.for_tenant(tenant).filter(pk=branch_id).exists()


@reporting_read
def call_distribution(
    *,
    tenant: Company,
    date_from: dt.date,
    date_to: dt.date,
    branch_id: int | None = None,
) -> CallDistribution:
    """Calls that started between the local midnights of date_from and the day after date_to
    (tenant's zone), counted per branch, per local hour and per outcome: three aggregate
    queries (a fourth checks `branch_id`). Raises BranchNotFound for another tenant's branch."""
    zone = tenant_zone(tenant)
    if branch_id is not None and not _branch_exists(tenant, branch_id):
        raise BranchNotFound(details={"branch_id": branch_id})
    start = dt.datetime.combine(date_from, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    calls = CallLog.objects.for_tenant(tenant).filter(started_at__gte=start, started_at__lt=end)
    if branch_id is not None:
        calls = calls.filter(branch_id=branch_id)

    by_branch = [
        (row["branch_id"], row["calls"])
        for row in calls.values("branch_id").annotate(calls=Count("pk")).order_by("branch_id")
    ]
    hours = dict(
        calls.annotate(hour=ExtractHour("started_at", tzinfo=zone))
        .values("hour")
        .annotate(calls=Count("pk"))
        .order_by("hour")
        .values_list("hour", "calls")
    )
    outcomes = {value: 0 for value in CallOutcome.values}
    by_outcome = calls.values("outcome").annotate(calls=Count("pk")).order_by()
    for outcome, count in by_outcome.values_list("outcome", "calls"):
        key = outcome if outcome in outcomes else CallOutcome.UNKNOWN.value
        outcomes[key] += count
    return CallDistribution(
        total_calls=sum(count for _, count in by_branch),
        by_branch=by_branch,
        by_hour=[(hour, hours.get(hour, 0)) for hour in range(24)],
        by_outcome=outcomes,
        date_from=date_from,
        date_to=date_to,
        time_zone=str(zone),
    )
