"""`POST /webhooks/stripe`: subscription and invoice events from Stripe.

Verified with the SDK's `stripe.Webhook.construct_event` over the raw body and the
Stripe-Signature header with STRIPE_WEBHOOK_SECRET (at most 5 minutes old). The tenant is the
one whose subscription has the event's Stripe customer; an event for an unknown customer is
acknowledged and recorded, so Stripe stops retrying it. Each event id is applied once
(`first_delivery`); a late older event does not undo a newer one (`billing_event_apply`).
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from common.errors import ServiceUnavailable, ValidationFailed
from integrations.billing import billing_event_apply, subscription_for_customer
from integrations.models import WebhookProvider
from integrations.webhooks import error_response, first_delivery, signature_failed

logger = logging.getLogger("askproai.webhooks.stripe")


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
        event: dict[str, Any] = stripe.Webhook.construct_event(
            request.body, signature, secret
        ).to_dict()
    except stripe.SignatureVerificationError:
        return signature_failed(request, "Stripe")
    except (ValueError, UnicodeDecodeError):
        return error_response(request, ValidationFailed("The body is not a Stripe event."))
    event_id = str(event.get("id") or "")
    if not event_id.startswith("evt_"):
        return error_response(
            request, ValidationFailed("The event has no id.", details={"id": ["Missing."]})
        )
    event_type = str(event.get("type") or "")
    with transaction.atomic():
        subscription = subscription_for_customer(_customer_of(event))
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
