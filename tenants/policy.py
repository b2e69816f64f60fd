"""What a plan allows and whether this tenant may do this now: the one answer for every plan
limit and plan feature (the plan table is in docs/contract.md; -1 means unlimited).

Services ask here before a write a plan limits (`limit_check`) or a feature gates
(`feature_require`, or `feature_allowed` where the feature is optional, as an SMS beside an
e-mail). Counting stays with the caller, which knows what to lock. A lapsed subscription is
judged by basic's limits and features (`effective_plan`); nothing is ever deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from django.conf import settings

from mcp_core.ratelimit import UNLIMITED
from tenants.enums import Plan, SubscriptionStatus
from tenants.errors import PlanFeatureMissing, PlanLimitReached

if TYPE_CHECKING:
    from tenants.models import Company

__all__ = [
    "FEATURE_ADDONS",
    "FEATURE_REQUIRED_PLAN",
    "LAPSED_STATUSES",
    "UNLIMITED",
    "PlanLimits",
    "effective_plan",
    "feature_allowed",
    "feature_refusal",
    "feature_require",
    "features_of",
    "limit_check",
    "limit_of",
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


# The lowest plan that includes each feature; `feature_require` refuses it below.
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


# The limit names a caller may ask for: PlanLimits' fields, in their order.
LIMITS = tuple(limit.name for limit in fields(PlanLimits))


def limit_of(tenant: Company, name: str) -> int:
    """The tenant's limit `name` under the plan in force (UNLIMITED for none)."""
    if name not in LIMITS:
        raise ValueError(f"unknown plan limit {name!r}")
    limit: int = getattr(plan_limits(effective_plan(tenant)), name)
    return limit


def limit_check(tenant: Company, name: str, *, used: int) -> None:
    """Raise PlanLimitReached (TENANT_QUOTA_EXCEEDED, details {quota, plan, limit, used}) when
    `used` leaves no room for one more under the limit `name`."""
    limit = limit_of(tenant, name)
    if limit != UNLIMITED and used >= limit:
        plan = effective_plan(tenant)
        raise PlanLimitReached(
            f"The {plan} plan allows {limit} ({name.replace('_', ' ')}); {used} are used.",
            details={"quota": name, "plan": plan, "limit": limit, "used": used},
        )


def features_of(tenant: Company) -> dict[str, bool]:
    """Every plan feature and whether the tenant has it now: the plan in force plus the
    subscription's add-ons, which lapse with it (basic's features, nothing bought on)."""
    subscription = getattr(tenant, "subscription", None)
    addons: dict[str, bool] = {}
    if subscription is not None and subscription.status not in LAPSED_STATUSES:
        addons = subscription.features or {}
    return plan_features(effective_plan(tenant), addons)


def feature_allowed(tenant: Company, feature: str) -> bool:
    if feature not in FEATURE_REQUIRED_PLAN:
        raise ValueError(f"unknown plan feature {feature!r}")
    return features_of(tenant)[feature]


def feature_refusal(tenant: Company, feature: str) -> PlanFeatureMissing | None:
    """The refusal (PERMISSION_DENIED, details {feature, required_plan}) when the tenant's plan
    in force lacks `feature`, for a caller that raises it later or elsewhere; else None."""
    if feature_allowed(tenant, feature):
        return None
    required = str(FEATURE_REQUIRED_PLAN[feature])
    addon = FEATURE_ADDONS.get(feature)
    extra = f" or the '{addon}' add-on" if addon else ""
    return PlanFeatureMissing(
        f"The feature '{feature}' needs the {required} plan{extra}.",
        details={"feature": feature, "required_plan": required},
    )


def feature_require(tenant: Company, feature: str) -> None:
    """Raise PlanFeatureMissing (PERMISSION_DENIED, details {feature, required_plan}) when the
    tenant's plan in force lacks `feature`."""
    refusal = feature_refusal(tenant, feature)
    if refusal is not None:
        raise refusal
