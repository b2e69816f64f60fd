"""Writes of a tenant's `Subscription` that come from billing (Stripe, `integrations.stripe`):
its billing customer, a subscription started, and what the billing provider reports later.

The provider's vocabulary (its statuses, prices, event payloads) is translated by the caller;
the rules about our subscription are here: an older event never undoes a newer one, an old
subscription ending says nothing about the current one, a failed payment makes a live
subscription past due and a paid one makes it active again. Nothing is ever deleted: a lapsed
subscription keeps its plan and the tenant's data (`tenants.policy.effective_plan` lowers its
limits). Every change is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from mcp_core.audit import audit_record
from tenants.enums import SubscriptionStatus
from tenants.models import Company, Subscription


def subscription_get_or_create(*, tenant: Company) -> Subscription:
    """The tenant's subscription row, created with the defaults when it has none."""
    subscription, _ = Subscription.objects.get_or_create(tenant=tenant)
    return subscription


def subscription_for_billing_customer(customer_id: str) -> Subscription | None:
    """The subscription whose billing customer is `customer_id`, locked (call it inside the
    transaction that changes it), with its tenant; None for an unknown or empty id."""
    if not customer_id:
        return None
    return (
        Subscription.objects.select_for_update()
        .select_related("tenant")
        .filter(stripe_customer_id=customer_id)
        .first()
    )


def subscription_billing_customer_set(
    *, tenant: Company, actor: str, subscription_id: int, customer_id: str
) -> str:
    """Record the tenant's billing customer unless it has one already (two calls racing: the
    first wins); returns the customer id now stored. Audited as `billing.customer_created`."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
        if not subscription.stripe_customer_id:
            subscription.stripe_customer_id = customer_id
            subscription.save(update_fields=["stripe_customer_id", "updated_at"])
            audit_record(
                tenant=tenant,
                actor=actor,
                action="billing.customer_created",
                obj=subscription,
                changes={"stripe_customer_id": customer_id},
            )
    return subscription.stripe_customer_id


def subscription_started(
    *,
    tenant: Company,
    actor: str,
    subscription_id: int,
    plan: str,
    status: str,
    stripe_subscription_id: str,
    current_period_end: dt.datetime | None,
) -> Subscription:
    """Record the subscription the billing provider started (or moved) for the tenant: its id,
    plan, status and period end. Audited as `billing.subscribed`."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
        subscription.stripe_subscription_id = stripe_subscription_id
        subscription.plan = plan
        subscription.status = status
        subscription.current_period_end = current_period_end
        subscription.save()
        audit_record(
            tenant=tenant,
            actor=actor,
            action="billing.subscribed",
            obj=subscription,
            changes={
                "plan": plan,
                "status": subscription.status,
                "stripe_subscription_id": stripe_subscription_id,
            },
        )
    return subscription


@dataclass(frozen=True)
class BillingEvent:
    """One event of the billing provider about a subscription: its type and id (for the audit
    row) and when the provider created it (for ordering)."""

    type: str
    id: Any
    created: dt.datetime


def subscription_state_reported(
    *,
    subscription: Subscription,
    actor: str,
    event: BillingEvent,
    stripe_subscription_id: str,
    status: str,
    plan: str | None,
    current_period_end: dt.datetime | None,
    ended: bool,
) -> str:
    """The provider reports the state of subscription `stripe_subscription_id`: its `status`,
    its `plan` (None: a price we do not map, the plan stays), its period end (None: unchanged),
    `ended` when it was deleted (canceled whatever `status` says). `subscription` is locked by
    the caller. Returns "applied", "stale" (older than the last event applied) or
    "other_subscription" (an old subscription ending)."""
    if _stale(subscription, event):
        return "stale"
    before = _state(subscription)
    current = subscription.stripe_subscription_id
    if current and stripe_subscription_id != current and ended:
        return "other_subscription"  # an old subscription ending says nothing of the new
    subscription.stripe_subscription_id = stripe_subscription_id
    subscription.status = SubscriptionStatus.CANCELED if ended else status
    if plan is not None:
        subscription.plan = plan
    subscription.current_period_end = current_period_end or subscription.current_period_end
    return _applied(subscription, actor, event, before)


def subscription_payment_reported(
    *,
    subscription: Subscription,
    actor: str,
    event: BillingEvent,
    stripe_subscription_id: str,
    paid: bool,
) -> str:
    """The provider reports an invoice of subscription `stripe_subscription_id` ("" when the
    invoice names none) `paid` or failed. A failure makes a live subscription past due; a
    payment makes a past-due or incomplete one active. `subscription` is locked by the caller.
    Returns "applied", "stale" or "other_subscription"."""
    if _stale(subscription, event):
        return "stale"
    before = _state(subscription)
    if stripe_subscription_id and subscription.stripe_subscription_id not in (
        "",
        stripe_subscription_id,
    ):
        return "other_subscription"
    if not paid:
        if subscription.status != SubscriptionStatus.CANCELED:
            subscription.status = SubscriptionStatus.PAST_DUE
    elif subscription.status in (SubscriptionStatus.PAST_DUE, SubscriptionStatus.INCOMPLETE):
        subscription.status = SubscriptionStatus.ACTIVE
    return _applied(subscription, actor, event, before)


def _stale(subscription: Subscription, event: BillingEvent) -> bool:
    return bool(subscription.stripe_event_at and event.created < subscription.stripe_event_at)


def _state(subscription: Subscription) -> dict[str, str]:
    return {"plan": subscription.plan, "status": subscription.status}


def _applied(
    subscription: Subscription, actor: str, event: BillingEvent, before: dict[str, str]
) -> str:
    subscription.stripe_event_at = event.created
    subscription.save()
    after = _state(subscription)
    audit_record(
        tenant=subscription.tenant,
        actor=actor,
        action="billing.subscription_changed" if after != before else "billing.event_applied",
        obj=subscription,
        changes={"event": event.type, "event_id": event.id, "before": before, **after},
    )
    return "applied"
