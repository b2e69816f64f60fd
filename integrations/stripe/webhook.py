"""`POST /webhooks/stripe`: subscription and invoice events from Stripe.

Verified with the SDK's `stripe.Webhook.construct_event` over the raw body and the
Stripe-Signature header with STRIPE_WEBHOOK_SECRET (at most 5 minutes old). The tenant is the
one whose subscription has the event's Stripe customer; an event for an unknown customer is
acknowledged and recorded, so Stripe stops retrying it. Each event id is applied once
(`first_delivery`). `billing_event_apply` translates the event (Stripe's statuses, prices,
payload shapes) and the tenant's subscription changes through `tenants.subscriptions`, which
also keeps a late older event from undoing a newer one.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing
from typing import Annotated, Any

import stripe
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from common.errors import ServiceUnavailable, ValidationFailed
from common.jsonbody import parse_json
from integrations.models import WebhookProvider
from integrations.stripe.billing import STATUS_FROM_STRIPE, period_end_of, plan_for_price, price_of
from integrations.webhooks import error_response, first_delivery, signature_failed
from mcp_core.orchestrator import validation_details
from tenants.enums import SubscriptionStatus
from tenants.models import Subscription
from tenants.subscriptions import (
    BillingEvent,
    subscription_for_billing_customer,
    subscription_payment_reported,
    subscription_state_reported,
)

logger = logging.getLogger("askproai.webhooks.stripe")

SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
INVOICE_EVENTS = ("invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed")
WEBHOOK_ACTOR = "system:stripe"


# The fields of an event this webhook reads, with the types it reads them as: a signed event
# with any of them malformed is a 400, never an exception halfway through applying it.
Timestamp = Annotated[StrictInt, Field(ge=0, le=32_503_680_000)]  # up to the year 3000


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Price(_Shape):
    id: StrictStr | None = None


class _Item(_Shape):
    price: _Price | None = None
    current_period_end: Timestamp | None = None


class _Items(_Shape):
    data: list[_Item] = []


class _Reference(_Shape):
    id: StrictStr | None = None


class _SubscriptionDetails(_Shape):
    subscription: StrictStr | None = None


class _Parent(_Shape):
    subscription_details: _SubscriptionDetails | None = None


class _Object(_Shape):
    object: StrictStr | None = None
    id: StrictStr | None = None
    customer: StrictStr | _Reference | None = None
    status: StrictStr | None = None
    items: _Items | None = None
    current_period_end: Timestamp | None = None
    subscription: StrictStr | _Reference | None = None
    parent: _Parent | None = None


class _Data(_Shape):
    object: _Object | None = None


class _Event(_Shape):
    id: StrictStr | None = None
    type: StrictStr | None = None
    created: Timestamp | None = None
    data: _Data | None = None


def stripe_event(body: bytes) -> dict[str, Any]:
    """The verified body as an event whose fields we read have the shape we read them in.

    Raises ValidationFailed (400)."""
    try:
        data = parse_json(body)
    except ValidationFailed as exc:
        raise ValidationFailed("The body is not a Stripe event.", details=exc.details) from exc
    try:
        _Event.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(
            "The Stripe event has malformed fields.", details=validation_details(exc)
        ) from exc
    return typing.cast(dict[str, Any], data)


def _customer_of(event: dict[str, Any]) -> str:
    obj = (event.get("data") or {}).get("object") or {}
    if obj.get("object") == "customer":
        return str(obj.get("id") or "")
    customer = obj.get("customer")
    if isinstance(customer, dict):  # expanded
        customer = customer.get("id")
    return str(customer or "")


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        # Answering 503 makes Stripe retry, so events sent before the secret is set are kept.
        return error_response(
            request,
            ServiceUnavailable(
                "stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET).",
                details={"integration": "stripe"},
            ),
        )
    signature = request.META.get("HTTP_STRIPE_SIGNATURE", "")
    try:
        stripe.WebhookSignature.verify_header(
            request.body, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except stripe.SignatureVerificationError:
        return signature_failed(request, "Stripe")
    try:
        event = stripe_event(request.body)
    except ValidationFailed as exc:
        return error_response(request, exc)
    event_id = str(event.get("id") or "")
    if not event_id.startswith("evt_"):
        return error_response(
            request, ValidationFailed("The event has no id.", details={"id": ["Missing."]})
        )
    event_type = str(event.get("type") or "")
    with transaction.atomic():
        subscription = subscription_for_billing_customer(_customer_of(event))
        tenant = subscription.tenant if subscription else None
        if not first_delivery(
            WebhookProvider.STRIPE,
            event_id,
            event_type=event_type,
            tenant=tenant,
            payload={"type": event_type, "customer": _customer_of(event)},
        ):
            return JsonResponse({"received": True, "result": "replayed"})
        if subscription is None:
            logger.warning("stripe event %s for unknown customer", event_id)
            return JsonResponse({"received": True, "result": "unknown_customer"})
        result = billing_event_apply(subscription=subscription, event=event)
    return JsonResponse({"received": True, "result": result})


def billing_event_apply(*, subscription: Subscription, event: dict[str, Any]) -> str:
    """Apply one verified Stripe event to the tenant's subscription (row locked by the caller,
    inside the webhook's transaction). Returns what happened: "applied", "stale" (older than
    the last event applied), "other_subscription" or "ignored" (a type we do not act on).

    Never deletes anything: a canceled or unpaid subscription keeps its plan and the tenant's
    data; `effective_plan` lowers the limits while it is lapsed."""
    event_type = str(event.get("type", ""))
    if event_type not in SUBSCRIPTION_EVENTS + INVOICE_EVENTS:
        return "ignored"
    billing_event = BillingEvent(
        type=event_type,
        id=event.get("id"),
        created=dt.datetime.fromtimestamp(int(event.get("created") or 0), dt.UTC),
    )
    obj: dict[str, Any] = (event.get("data") or {}).get("object") or {}
    if event_type in SUBSCRIPTION_EVENTS:
        return subscription_state_reported(
            subscription=subscription,
            actor=WEBHOOK_ACTOR,
            event=billing_event,
            stripe_subscription_id=str(obj.get("id", "")),
            status=STATUS_FROM_STRIPE.get(str(obj.get("status")), SubscriptionStatus.INCOMPLETE),
            plan=plan_for_price(price_of(obj)),
            current_period_end=period_end_of(obj),
            ended=event_type == "customer.subscription.deleted",
        )
    return subscription_payment_reported(
        subscription=subscription,
        actor=WEBHOOK_ACTOR,
        event=billing_event,
        stripe_subscription_id=_invoice_subscription_id(obj),
        paid=event_type != "invoice.payment_failed",
    )


def _invoice_subscription_id(invoice: dict[str, Any]) -> str:
    # Newer API versions moved it under parent.subscription_details.
    direct = invoice.get("subscription")
    if isinstance(direct, str):
        return direct
    details = ((invoice.get("parent") or {}).get("subscription_details")) or {}
    return str(details.get("subscription") or "")
