"""Stripe: the SDK's client (`client`), billing through it (`billing`: customers,
subscriptions, usage charges) and the webhook (`webhook`, `POST /webhooks/stripe`). The names
other modules use are importable from here."""

from integrations.stripe.billing import (
    ChargeResult,
    billing_charge_create,
    billing_customer_ensure,
    billing_subscription_start,
)
from integrations.stripe.client import (
    STRIPE_API_VERSION,
    StripeNotConfigured,
    StripeRejected,
    StripeUnavailable,
    is_configured,
)

__all__ = [
    "STRIPE_API_VERSION",
    "ChargeResult",
    "StripeNotConfigured",
    "StripeRejected",
    "StripeUnavailable",
    "billing_charge_create",
    "billing_customer_ensure",
    "billing_subscription_start",
    "is_configured",
]
