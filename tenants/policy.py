"""May this tenant do this now? The one answer for every plan limit and plan feature.

Services ask here before a write a plan limits (`limit_check`) or a feature gates
(`feature_require`, or `feature_allowed` where the feature is optional, as an SMS beside an
e-mail). Counting stays with the caller, which knows what to lock. A lapsed subscription is
judged by basic's limits and features (`effective_plan`); nothing is ever deleted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenants.errors import PlanFeatureMissing, PlanLimitReached
from tenants.plans import (
    FEATURE_ADDONS,
    FEATURE_REQUIRED_PLAN,
    LAPSED_STATUSES,
    UNLIMITED,
    effective_plan,
    plan_features,
    plan_limits,
)

if TYPE_CHECKING:
    from tenants.models import Company

__all__ = [
    "feature_allowed",
    "feature_refusal",
    "feature_require",
    "features_of",
    "limit_check",
    "limit_of",
]

LIMITS = ("branches", "staff_per_branch", "monthly_bookings", "api_calls_per_hour")


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
