"""Billing through Stripe: a customer and a subscription per tenant, and usage-based charges.

- Every POST carries a deterministic Idempotency-Key (tenant id + our own key), so a retried
  call (our task, a client retrying createStripeCharge) is billed once: Stripe answers the
  same key with the first answer.
- No STRIPE_API_KEY: subscription changes raise StripeNotConfigured, charges are recorded as
  `not_configured` (and sent when retried with the same key once Stripe is configured);
  nothing else is affected.
- Plans map to Stripe prices by STRIPE_PRICE_IDS; a price Stripe reports that is not in the
  map leaves the plan as it is. A lapsed subscription (past_due, canceled, incomplete) keeps
  its plan and data; `tenants.policy.effective_plan` gives it basic's limits until it is paid.
- The tenant's `Subscription` changes only through `tenants.subscriptions`; what Stripe
  reports later arrives by the webhook (`integrations.stripe.webhook`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from common.errors import (
    ApplicationError,
    Conflict,
    IntegrationError,
    ServiceUnavailable,
    ValidationFailed,
)
from integrations.models import ChargeStatus, StripeCharge
from integrations.stripe.client import is_configured, stripe_call, stripe_client
from mcp_core.audit import audit_record
from tenants.enums import Plan, SubscriptionStatus
from tenants.models import Company, Subscription
from tenants.subscriptions import (
    subscription_billing_customer_set,
    subscription_get_or_create,
    subscription_started,
)

logger = logging.getLogger("askproai.billing")

# Stripe's subscription statuses → ours. unpaid and paused count as past due (limits shrink),
# incomplete_expired as canceled: Stripe gave up on the first payment.
STATUS_FROM_STRIPE: dict[str, str] = {
    "active": SubscriptionStatus.ACTIVE,
    "trialing": SubscriptionStatus.TRIALING,
    "past_due": SubscriptionStatus.PAST_DUE,
    "unpaid": SubscriptionStatus.PAST_DUE,
    "paused": SubscriptionStatus.PAST_DUE,
    "canceled": SubscriptionStatus.CANCELED,
    "incomplete": SubscriptionStatus.INCOMPLETE,
    "incomplete_expired": SubscriptionStatus.CANCELED,
}


def price_id_for(plan: str) -> str:
    price = str(settings.STRIPE_PRICE_IDS.get(plan, ""))
    if not price:
        raise ValidationFailed(
            f"No Stripe price is configured for plan {plan!r} (STRIPE_PRICE_IDS).",
            details={"plan": [f"No price for {plan!r}."]},
        )
    return price


def plan_for_price(price_id: str) -> str | None:
    for plan, price in settings.STRIPE_PRICE_IDS.items():
        if price == price_id and plan in Plan.values:
            return str(plan)
    return None


# ---------------------------------------------------------------------------- subscriptions


def billing_customer_ensure(*, tenant: Company, actor: str) -> str:
    """The tenant's Stripe customer id, creating the customer the first time.

    Raises StripeNotConfigured, StripeUnavailable, StripeRejected."""
    subscription = subscription_get_or_create(tenant=tenant)
    if subscription.stripe_customer_id:
        return subscription.stripe_customer_id
    client = stripe_client()
    customer = stripe_call(
        client.v1.customers.create,
        params={
            "name": tenant.name,
            **({"email": tenant.email} if tenant.email else {}),
            "metadata": {"tenant_id": str(tenant.pk), "tenant_slug": tenant.slug},
        },
        # One customer per tenant, even when two calls race or a call is retried.
        options={"idempotency_key": f"askproai-customer-{tenant.pk}"},
    )
    return subscription_billing_customer_set(
        tenant=tenant, actor=actor, subscription_id=subscription.pk, customer_id=customer["id"]
    )


def period_end_of(stripe_subscription: dict[str, Any]) -> dt.datetime | None:
    # Newer API versions carry the period on the items, older ones on the subscription.
    timestamp = stripe_subscription.get("current_period_end")
    if timestamp is None:
        items = (stripe_subscription.get("items") or {}).get("data") or []
        timestamp = items[0].get("current_period_end") if items else None
    return dt.datetime.fromtimestamp(int(timestamp), dt.UTC) if timestamp else None


def price_of(stripe_subscription: dict[str, Any]) -> str:
    items = (stripe_subscription.get("items") or {}).get("data") or []
    return str((items[0].get("price") or {}).get("id") or "") if items else ""


def billing_subscription_start(*, tenant: Company, actor: str, plan: str) -> Subscription:
    """Subscribe the tenant to `plan` in Stripe: creates the customer if needed and a
    subscription with the plan's price, or moves an existing live subscription to that price.
    Stores the Stripe ids, status, plan and period end; writes a `billing.subscribed` audit
    row. Raises ValidationFailed (no price for the plan), StripeNotConfigured,
    StripeUnavailable, StripeRejected."""
    price = price_id_for(plan)
    customer_id = billing_customer_ensure(tenant=tenant, actor=actor)
    client = stripe_client()
    subscription = Subscription.objects.get(tenant=tenant)
    previous = subscription.stripe_subscription_id
    if previous and subscription.status != SubscriptionStatus.CANCELED:
        current = stripe_call(client.v1.subscriptions.retrieve, previous)
        item_id = current["items"]["data"][0]["id"]
        remote = stripe_call(
            client.v1.subscriptions.update,
            previous,
            params={"items": [{"id": item_id, "price": price}]},
            options={"idempotency_key": f"askproai-subscription-{previous}-to-{price}"},
        )
    else:
        remote = stripe_call(
            client.v1.subscriptions.create,
            params={
                "customer": customer_id,
                "items": [{"price": price}],
                "metadata": {"tenant_id": str(tenant.pk), "plan": plan},
            },
            # Keyed by what it replaces, so a retry replays and a later restart is new.
            options={
                "idempotency_key": (
                    f"askproai-subscription-{tenant.pk}-{plan}-after-{previous or 'none'}"
                )
            },
        )
    return subscription_started(
        tenant=tenant,
        actor=actor,
        subscription_id=subscription.pk,
        plan=plan,
        status=STATUS_FROM_STRIPE.get(str(remote.get("status")), SubscriptionStatus.INCOMPLETE),
        stripe_subscription_id=remote["id"],
        current_period_end=period_end_of(remote),
    )


# ----------------------------------------------------------------------------------- charges


@dataclass(frozen=True)
class ChargeResult:
    charge: StripeCharge
    replayed: bool  # an earlier call with this key already billed it


def _fingerprint(amount_cents: int, currency: str, description: str) -> str:
    raw = json.dumps([amount_cents, currency, description], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def billing_charge_create(
    *,
    tenant: Company,
    actor: str,
    amount_cents: int,
    currency: str,
    description: str,
    idempotency_key: str,
) -> ChargeResult:
    """Bill a usage-based amount to the tenant: an invoice item on its next Stripe invoice.

    The same `idempotency_key` with the same arguments returns the first charge and bills
    nothing again (here and at Stripe, which gets the key too); with other arguments it raises
    Conflict. Without Stripe configured the charge is recorded as `not_configured`; a failed
    call is recorded as `failed` and re-raised (StripeUnavailable, StripeRejected); calling
    again with the same key sends it again under the same Stripe key. Audited as
    `billing.charged`."""
    currency = currency.lower()
    fingerprint = _fingerprint(amount_cents, currency, description)
    with transaction.atomic():
        charge, created = StripeCharge.objects.for_tenant(tenant).get_or_create(
            tenant=tenant,
            idempotency_key=idempotency_key,
            defaults={
                "request_fingerprint": fingerprint,
                "amount_cents": amount_cents,
                "currency": currency,
                "description": description,
            },
        )
        # Serialise calls with one key: the second waits and then sees the first's outcome.
        charge = StripeCharge.objects.for_tenant(tenant).select_for_update().get(pk=charge.pk)
        if charge.request_fingerprint != fingerprint:
            raise Conflict(
                "This idempotency_key was used with other arguments.",
                details={"idempotency_key": ["Used before with other arguments."]},
            )
        if charge.status == ChargeStatus.SUCCEEDED:
            return ChargeResult(charge=charge, replayed=True)
        if not is_configured():
            charge.status = ChargeStatus.NOT_CONFIGURED
            charge.error = "stripe is not configured"
            charge.save(update_fields=["status", "error", "updated_at"])
            return ChargeResult(charge=charge, replayed=not created)
        failure: ApplicationError | None = None
        try:
            customer_id = billing_customer_ensure(tenant=tenant, actor=actor)
            item = stripe_call(
                stripe_client().v1.invoice_items.create,
                params={
                    "customer": customer_id,
                    "amount": amount_cents,
                    "currency": currency,
                    "description": description,
                    "metadata": {"tenant_id": str(tenant.pk), "idempotency_key": idempotency_key},
                },
                options={"idempotency_key": f"askproai-charge-{tenant.pk}-{idempotency_key}"},
            )
        except (ServiceUnavailable, IntegrationError, Conflict) as exc:
            charge.status = ChargeStatus.FAILED
            charge.error = str(exc)[:500]
            charge.save(update_fields=["status", "error", "updated_at"])
            failure = exc
        else:
            charge.status = ChargeStatus.SUCCEEDED
            charge.error = ""
            charge.stripe_invoice_item_id = str(item["id"])
            charge.save(update_fields=["status", "error", "stripe_invoice_item_id", "updated_at"])
            audit_record(
                tenant=tenant,
                actor=actor,
                action="billing.charged",
                obj=charge,
                changes={
                    "amount_cents": amount_cents,
                    "currency": currency,
                    "stripe_invoice_item_id": charge.stripe_invoice_item_id,
                },
            )
    if failure is not None:
        raise failure
    return ChargeResult(charge=charge, replayed=False)
