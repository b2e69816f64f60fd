"""Plan limits and features (docs/contract.md). -1 means unlimited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

from mcp_core.ratelimit import UNLIMITED
from tenants.enums import Plan, SubscriptionStatus

if TYPE_CHECKING:
    from tenants.models import Company

__all__ = [
    "FEATURE_ADDONS",
    "FEATURE_REQUIRED_PLAN",
    "LAPSED_STATUSES",
    "UNLIMITED",
    "PlanLimits",
    "effective_plan",
    "plan_features",
    "plan_limits",
]


@dataclass(frozen=True)
class PlanLimits:
    branches: int
    staff_per_branch: int
    monthly_bookings: int
    api_calls_per_hour: int


def plan_limits(plan: str) -> PlanLimits:
    """The limits of a plan; an unknown plan gets basic's, never more."""
    if plan == Plan.ENTERPRISE:
        return PlanLimits(UNLIMITED, UNLIMITED, UNLIMITED, settings.MCP_RATE_LIMIT_ENTERPRISE)
    if plan == Plan.PROFESSIONAL:
        return PlanLimits(5, 20, 5000, settings.MCP_RATE_LIMIT_PRO)
    return PlanLimits(1, 5, 500, settings.MCP_RATE_LIMIT_BASIC)


# The lowest plan that includes each feature; `tenants.policy` refuses it below.
# `api_access` is every plan's: basic's API budget is its rate limit (MCP_RATE_LIMIT_BASIC),
# and GraphQL, external MCP servers and the calendar sync are the features above it.
FEATURE_REQUIRED_PLAN: dict[str, str] = {
    "multi_branch": Plan.PROFESSIONAL,
    "advanced_analytics": Plan.PROFESSIONAL,
    "custom_branding": Plan.ENTERPRISE,
    "api_access": Plan.BASIC,
    "graphql_api": Plan.PROFESSIONAL,
    "federation": Plan.PROFESSIONAL,
    "calendar_sync": Plan.PROFESSIONAL,
    "sms_notifications": Plan.PROFESSIONAL,
    "whatsapp_integration": Plan.ENTERPRISE,
}
# Features a lower plan may buy on: the subscription's `features` flag that grants it.
FEATURE_ADDONS: dict[str, str] = {"sms_notifications": "sms", "whatsapp_integration": "whatsapp"}
_PLAN_RANK: dict[str, int] = {Plan.BASIC: 0, Plan.PROFESSIONAL: 1, Plan.ENTERPRISE: 2}


def plan_features(plan: str, flags: dict[str, bool]) -> dict[str, bool]:
    """Features of a plan plus the subscription's add-ons (`sms`, `whatsapp`); an unknown plan
    ranks as basic."""
    rank = _PLAN_RANK.get(plan, 0)
    return {
        feature: rank >= _PLAN_RANK[required]
        or bool(flags.get(FEATURE_ADDONS.get(feature, ""), False))
        for feature, required in FEATURE_REQUIRED_PLAN.items()
    }


LAPSED_STATUSES = (
    SubscriptionStatus.CANCELED,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.INCOMPLETE,
)


def effective_plan(tenant: Company) -> str:
    """The plan whose limits apply now: a lapsed or missing subscription falls back to basic
    (limits shrink, data stays)."""
    subscription = getattr(tenant, "subscription", None)
    if subscription is None or subscription.status in LAPSED_STATUSES:
        return Plan.BASIC
    return str(subscription.plan)
