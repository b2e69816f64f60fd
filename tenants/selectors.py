"""Reads of the tenants app. Tenant-owned rows are reached only through `for_tenant`."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import asdict, dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from common.pagination import Page, paginate
from tenants import policy
from tenants.contracts import (
    BranchesSummary,
    BranchSummary,
    PlanLimitsOut,
    SubscriptionOut,
    TenantOverview,
    TenantProfile,
)
from tenants.errors import BranchNotFound, TenantNotFound
from tenants.models import Branch, Company

TENANT_CACHE_TTL = 300  # seconds; every tenant, branch and settings write clears it


def tenant_cache_key(tenant_id: int) -> str:
    return f"tenant:{tenant_id}"


def tenant_get(*, tenant_id: int) -> Company:
    """Raises TenantNotFound."""
    company = Company.objects.select_related("subscription").filter(pk=tenant_id).first()
    if company is None:
        raise TenantNotFound(details={"tenant_id": tenant_id})
    return company


def tenant_overview(*, tenant: Company) -> TenantOverview:
    """Profile, subscription, limits and branches of the tenant, cached for TENANT_CACHE_TTL.

    The cache holds the overview as JSON, so it is the same with the local-memory cache and
    with Redis. Read from the database on a miss (the caller's `tenant` may be stale).
    Raises TenantNotFound.
    """
    key = tenant_cache_key(tenant.pk)
    cached = cache.get(key)
    if isinstance(cached, dict):
        return TenantOverview.model_validate(cached)
    overview = _build_overview(tenant_get(tenant_id=tenant.pk))
    cache.set(key, overview.model_dump(mode="json"), TENANT_CACHE_TTL)
    return overview


def _build_overview(company: Company) -> TenantOverview:
    subscription = getattr(company, "subscription", None)
    plan = policy.effective_plan(company)
    limits = policy.plan_limits(plan)
    branches = list(
        Branch.objects.for_tenant(company)
        .order_by("name", "pk")
        .values("pk", "name", "city", "is_active")
    )
    return TenantOverview(
        tenant=TenantProfile.from_model(company),
        subscription=SubscriptionOut(
            plan=subscription.plan if subscription else None,
            status=subscription.status if subscription else None,
            effective_plan=plan,
            current_period_end=(
                subscription.current_period_end.isoformat()
                if subscription and subscription.current_period_end
                else None
            ),
            features=policy.features_of(company),
        ),
        limits=PlanLimitsOut(**asdict(limits)),
        branches=BranchesSummary(
            total=len(branches),
            active=sum(1 for row in branches if row["is_active"]),
            items=[
                BranchSummary(
                    id=row["pk"], name=row["name"], city=row["city"], is_active=row["is_active"]
                )
                for row in branches
            ],
        ),
    )


def tenant_settings_get(*, tenant: Company) -> dict[str, Any]:
    """The tenant's settings as stored (read fresh: the caller's `tenant` may be stale).

    Raises TenantNotFound.
    """
    row = Company.objects.filter(pk=tenant.pk).values("settings").first()
    if row is None:
        raise TenantNotFound(details={"tenant_id": tenant.pk})
    return dict(row["settings"] or {})


def branch_get(*, tenant: Company, branch_id: int) -> Branch:
    """Raises BranchNotFound, also for another tenant's branch (which must not be told apart)."""
    branch = Branch.objects.for_tenant(tenant).filter(pk=branch_id).first()
    if branch is None:
        raise BranchNotFound(details={"branch_id": branch_id})
    return branch


def branch_list(
    *, tenant: Company, active: bool | None = None, city: str | None = None
) -> QuerySet[Branch]:
    branches = Branch.objects.for_tenant(tenant)
    if active is not None:
        branches = branches.filter(is_active=active)
    if city:
        branches = branches.filter(city__icontains=city)
    return branches.order_by("name", "pk")


def branch_list_page(
    *,
    tenant: Company,
    active: bool | None = None,
    city: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Page[Branch]:
    branches = branch_list(tenant=tenant, active=active, city=city)
    return paginate(branches, page=page, page_size=page_size)


@dataclass(frozen=True)
class TenantUsage:
    branches: int
    staff_by_branch: dict[int, int]  # branch id → active staff, every branch listed
    bookings_this_month: int

    @property
    def max_staff_in_a_branch(self) -> int:
        return max(self.staff_by_branch.values(), default=0)


def month_start(*, tenant: Company, now: dt.datetime | None = None) -> dt.datetime:
    """Midnight of the 1st of the current month in the tenant's time zone."""
    local = (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(tenant.time_zone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def tenant_usage(*, tenant: Company, now: dt.datetime | None = None) -> TenantUsage:
    """What the tenant uses of its plan: branches (any state), active staff per branch, and
    appointments created since the start of the month in the tenant's time zone (any status:
    a cancelled booking was still booked)."""
    staff_rows = (
        Branch.objects.for_tenant(tenant)
        .annotate(active_staff=Count("staff", filter=Q(staff__is_active=True)))
        .order_by("pk")
        .values_list("pk", "active_staff")
    )
    staff_by_branch = {branch_id: staff for branch_id, staff in staff_rows}
    # Reached through the tenant's reverse relation: the tenants app sits below bookings and
    # does not import it (import-linter layers).
    bookings = tenant.appointments.filter(created_at__gte=month_start(tenant=tenant, now=now))
    return TenantUsage(
        branches=len(staff_by_branch),
        staff_by_branch=staff_by_branch,
        bookings_this_month=bookings.count(),
    )
