from typing import Any

from django.core.management.base import CommandParser

from common.command import JsonCommand
from integrations.stripe import billing_subscription_start
from tenants import selectors
from tenants.enums import Plan


class Command(JsonCommand):
    help = (
        "Subscribe a tenant to a plan in Stripe: creates its Stripe customer on first use and a "
        "subscription with the plan's price (STRIPE_PRICE_IDS), or moves its live subscription "
        "to that price. Later changes arrive by the Stripe webhook."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--tenant", required=True, type=int, help="tenant id")
        parser.add_argument("--plan", required=True, choices=Plan.values)

    def run(self, **options: Any) -> dict[str, Any]:
        tenant = selectors.tenant_get(tenant_id=options["tenant"])
        subscription = billing_subscription_start(
            tenant=tenant, actor="cli:stripe_subscribe", plan=options["plan"]
        )
        return {
            "tenant_id": tenant.pk,
            "plan": subscription.plan,
            "status": subscription.status,
            "stripe_customer_id": subscription.stripe_customer_id,
            "stripe_subscription_id": subscription.stripe_subscription_id,
            "current_period_end": subscription.current_period_end,
        }

    def render(self, result: dict[str, Any]) -> str:
        return (
            f"Tenant {result['tenant_id']}: {result['plan']} ({result['status']}), "
            f"Stripe customer {result['stripe_customer_id']}, "
            f"subscription {result['stripe_subscription_id']}"
        )
