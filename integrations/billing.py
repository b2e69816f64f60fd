"""Billing through Stripe: a customer and a subscription per tenant, usage-based charges, and
the subscription state Stripe reports back (`billing_event_apply`, from the webhook).

- The official SDK (`stripe==16.1.0`) with the API version pinned (STRIPE_API_VERSION), every
  request bounded by INTEGRATION_HTTP_TIMEOUT and run through the `stripe` circuit breaker.
  STRIPE_API_BASE points it at another host (a local fake in tests). The SDK's own network
  retries are off: a retry is ours to make, with the same idempotency key.
- Every POST carries a deterministic Idempotency-Key (tenant id + our own key), so a retried
  call (our task, a client retrying createStripeCharge) is billed once: Stripe answers the
  same key with the first answer.
- No STRIPE_API_KEY: subscription changes raise StripeNotConfigured, charges are recorded as
  `not_configured` (and sent when retried with the same key once Stripe is configured);
  nothing else is affected.
- Plans map to Stripe prices by STRIPE_PRICE_IDS; a price Stripe reports that is not in the
  map leaves the plan as it is. A lapsed subscription (past_due, canceled, incomplete) keeps
  its plan and data; `tenants.plans.effective_plan` gives it basic's limits until it is paid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import stripe
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
from mcp_core.audit import audit_record
from mcp_core.breakers import call_with_breaker
from tenants.enums import Plan, SubscriptionStatus
from tenants.models import Company, Subscription

logger = logging.getLogger("askproai.billing")

STRIPE_API_VERSION = "2026-10-28.endive"
T = TypeVar("T")

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


class StripeNotConfigured(ServiceUnavailable):
    """No STRIPE_API_KEY: billing is skipped. Not an outage, so not a breaker failure."""

    client_error = True
    default_message = "stripe is not configured (STRIPE_API_KEY)."


class StripeRejected(IntegrationError):
    """Stripe refused the request itself (4xx): not an outage, so not a breaker failure."""

    client_error = True


class StripeUnavailable(ServiceUnavailable):
    """Stripe answered 5xx or 429, or did not answer in time: counts against the breaker."""


def is_configured() -> bool:
    return bool(settings.STRIPE_API_KEY)


def stripe_client() -> stripe.StripeClient:
    """A client for the configured key, pinned API version and base URL."""
    if not is_configured():
        raise StripeNotConfigured()
    base = settings.STRIPE_API_BASE.rstrip("/")
    return stripe.StripeClient(
        settings.STRIPE_API_KEY,
        stripe_version=STRIPE_API_VERSION,
        base_addresses={"api": base} if base else {},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=settings.INTEGRATION_HTTP_TIMEOUT),
    )


def _translated(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` raising our errors instead of the SDK's, so the breaker can tell an outage from a
    refused request."""

    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except stripe.IdempotencyError as exc:
            raise Conflict(
                "The idempotency key was used before with other arguments.",
                details={"stripe": exc.user_message or str(exc)},
            ) from exc
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            reason = "timeout" if "timed out" in str(exc).lower() else "unreachable"
            raise StripeUnavailable(
                f"stripe {reason}: {exc.user_message or exc}", details={"integration": "stripe"}
            ) from exc
        except stripe.StripeError as exc:
            status = exc.http_status or 0
            message = f"stripe answered {status}: {exc.user_message or exc}"
            details = {"integration": "stripe", "stripe_code": exc.code or ""}
            if 400 <= status < 500 and status != 401:
                raise StripeRejected(message, details=details) from exc
            if status >= 500:
                raise StripeUnavailable(message, details=details) from exc
            raise IntegrationError(message, details=details) from exc

    return call


def _stripe(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call one SDK method through the `stripe` breaker; the answer as a plain dict."""
    result = call_with_breaker("stripe", _translated(fn), *args, **kwargs)
    return dict(result.to_dict())


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
    subscription, _ = Subscription.objects.get_or_create(tenant=tenant)
    if subscription.stripe_customer_id:
        return subscription.stripe_customer_id
    client = stripe_client()
    customer = _stripe(
        client.v1.customers.create,
        params={
            "name": tenant.name,
            **({"email": tenant.email} if tenant.email else {}),
            "metadata": {"tenant_id": str(tenant.pk), "tenant_slug": tenant.slug},
        },
        # One customer per tenant, even when two calls race or a call is retried.
        options={"idempotency_key": f"askproai-customer-{tenant.pk}"},
    )
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if not subscription.stripe_customer_id:
            subscription.stripe_customer_id = customer["id"]
            subscription.save(update_fields=["stripe_customer_id", "updated_at"])
            audit_record(
                tenant=tenant,
                actor=actor,
                action="billing.customer_created",
                obj=subscription,
                changes={"stripe_customer_id": customer["id"]},
            )
    return subscription.stripe_customer_id


def _period_end(stripe_subscription: dict[str, Any]) -> dt.datetime | None:
    # Newer API versions carry the period on the items, older ones on the subscription.
    timestamp = stripe_subscription.get("current_period_end")
    if timestamp is None:
        items = (stripe_subscription.get("items") or {}).get("data") or []
        timestamp = items[0].get("current_period_end") if items else None
    return dt.datetime.fromtimestamp(int(timestamp), dt.UTC) if timestamp else None


def _price_of(stripe_subscription: dict[str, Any]) -> str:
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
        current = _stripe(client.v1.subscriptions.retrieve, previous)
        item_id = current["items"]["data"][0]["id"]
        remote = _stripe(
            client.v1.subscriptions.update,
            previous,
            params={"items": [{"id": item_id, "price": price}]},
            options={"idempotency_key": f"askproai-subscription-{previous}-to-{price}"},
        )
    else:
        remote = _stripe(
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
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        subscription.stripe_subscription_id = remote["id"]
        subscription.plan = plan
        subscription.status = STATUS_FROM_STRIPE.get(
            str(remote.get("status")), SubscriptionStatus.INCOMPLETE
        )
        subscription.current_period_end = _period_end(remote)
        subscription.save()
        audit_record(
            tenant=tenant,
            actor=actor,
            action="billing.subscribed",
            obj=subscription,
            changes={
                "plan": plan,
                "status": subscription.status,
                "stripe_subscription_id": remote["id"],
            },
        )
    return subscription


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
        charge, created = StripeCharge.objects.get_or_create(
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
        charge = StripeCharge.objects.select_for_update().get(pk=charge.pk)
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
            item = _stripe(
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


# ------------------------------------------------------------------------- webhook effects


SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
INVOICE_EVENTS = ("invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed")
WEBHOOK_ACTOR = "system:stripe"


def subscription_for_customer(customer_id: str) -> Subscription | None:
    if not customer_id:
        return None
    return (
        Subscription.objects.select_for_update()
        .select_related("tenant")
        .filter(stripe_customer_id=customer_id)
        .first()
    )


def billing_event_apply(*, subscription: Subscription, event: dict[str, Any]) -> str:
    """Apply one verified Stripe event to the tenant's subscription (row locked by the caller,
    inside the webhook's transaction). Returns what happened: "applied", "stale" (older than
    the last event applied), "other_subscription" or "ignored" (a type we do not act on).

    Never deletes anything: a canceled or unpaid subscription keeps its plan and the tenant's
    data; `effective_plan` lowers the limits while it is lapsed."""
    event_type = str(event.get("type", ""))
    if event_type not in SUBSCRIPTION_EVENTS + INVOICE_EVENTS:
        return "ignored"
    created = dt.datetime.fromtimestamp(int(event.get("created") or 0), dt.UTC)
    if subscription.stripe_event_at and created < subscription.stripe_event_at:
        return "stale"
    obj: dict[str, Any] = (event.get("data") or {}).get("object") or {}
    before = {"plan": subscription.plan, "status": subscription.status}

    if event_type in SUBSCRIPTION_EVENTS:
        remote_id = str(obj.get("id", ""))
        current = subscription.stripe_subscription_id
        if current and remote_id != current and event_type == "customer.subscription.deleted":
            return "other_subscription"  # an old subscription ending says nothing of the new
        subscription.stripe_subscription_id = remote_id
        if event_type == "customer.subscription.deleted":
            subscription.status = SubscriptionStatus.CANCELED
        else:
            subscription.status = STATUS_FROM_STRIPE.get(
                str(obj.get("status")), SubscriptionStatus.INCOMPLETE
            )
        plan = plan_for_price(_price_of(obj))
        if plan is not None:
            subscription.plan = plan
        subscription.current_period_end = _period_end(obj) or subscription.current_period_end
    else:
        remote_id = _invoice_subscription_id(obj)
        if remote_id and subscription.stripe_subscription_id not in ("", remote_id):
            return "other_subscription"
        if event_type == "invoice.payment_failed":
            if subscription.status != SubscriptionStatus.CANCELED:
                subscription.status = SubscriptionStatus.PAST_DUE
        elif subscription.status in (SubscriptionStatus.PAST_DUE, SubscriptionStatus.INCOMPLETE):
            subscription.status = SubscriptionStatus.ACTIVE

    subscription.stripe_event_at = created
    subscription.save()
    after = {"plan": subscription.plan, "status": subscription.status}
    audit_record(
        tenant=subscription.tenant,
        actor=WEBHOOK_ACTOR,
        action="billing.subscription_changed" if after != before else "billing.event_applied",
        obj=subscription,
        changes={"event": event_type, "event_id": event.get("id"), "before": before, **after},
    )
    return "applied"


def _invoice_subscription_id(invoice: dict[str, Any]) -> str:
    # Newer API versions moved it under parent.subscription_details.
    direct = invoice.get("subscription")
    if isinstance(direct, str):
        return direct
    details = ((invoice.get("parent") or {}).get("subscription_details")) or {}
    return str(details.get("subscription") or "")
