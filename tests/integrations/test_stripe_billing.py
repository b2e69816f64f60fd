"""Billing through Stripe's real SDK against the local fake: customer and subscription per
tenant, idempotent usage charges, the signed webhook, and lapsed subscriptions lowering limits
without deleting anything."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from django.test import Client

from common.errors import Conflict, ServiceUnavailable
from integrations import stripe as billing
from integrations.models import StripeCharge, WebhookEvent
from mcp_core.auth import Principal
from mcp_core.breakers import get_breaker
from mcp_core.models import AuditLog
from mcp_core.orchestrator import execute_named
from mcp_core.permissions import Role
from staff.models import Staff
from tenants.models import Branch, Subscription
from tenants.policy import effective_plan, plan_limits
from tests.factories import BranchFactory, CompanyFactory, StaffFactory
from tests.fakes.stripe import FakeStripe, stripe_error

pytestmark = pytest.mark.django_db

API_KEY = "sk_test_askproai"
WEBHOOK_SECRET = "whsec_test_askproai"
PRICES = {"basic": "price_basic", "professional": "price_pro", "enterprise": "price_ent"}


@pytest.fixture
def fake_stripe(settings: Any) -> Iterator[FakeStripe]:
    fake = FakeStripe(API_KEY).start()
    settings.STRIPE_API_KEY = API_KEY
    settings.STRIPE_API_BASE = fake.url
    settings.STRIPE_PRICE_IDS = PRICES
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.INTEGRATION_HTTP_TIMEOUT = 0.5
    settings.MCP_CIRCUIT_FAILURE_THRESHOLD = 2
    yield fake
    fake.stop()


def owner(tenant: Any) -> Principal:
    return Principal.system(tenant, "test", Role.OWNER)


# ---------------------------------------------------------------------------- subscriptions


def test_a_tenant_gets_a_customer_and_a_subscription_for_its_plan(fake_stripe: FakeStripe):
    tenant = CompanyFactory(name="Salon Sonnenschein", email="info@sonnenschein.example")
    subscription = billing.billing_subscription_start(
        tenant=tenant, actor="admin:anna", plan="professional"
    )

    [customer] = fake_stripe.customers.values()
    [remote] = fake_stripe.subscriptions.values()
    assert (customer["name"], customer["email"], customer["metadata"]) == (
        "Salon Sonnenschein",
        "info@sonnenschein.example",
        {"tenant_id": str(tenant.pk), "tenant_slug": tenant.slug},
    )
    assert remote["customer"] == customer["id"]
    assert remote["items"]["data"][0]["price"]["id"] == "price_pro"
    assert (subscription.stripe_customer_id, subscription.stripe_subscription_id) == (
        customer["id"],
        remote["id"],
    )
    assert (subscription.plan, subscription.status) == ("professional", "active")
    assert subscription.current_period_end is not None

    customer_call, subscription_call = fake_stripe.requests
    assert customer_call.path == "/v1/customers"
    assert customer_call.headers["stripe-version"] == billing.STRIPE_API_VERSION
    assert customer_call.headers["authorization"] == f"Bearer {API_KEY}"
    assert customer_call.headers["idempotency-key"] == f"askproai-customer-{tenant.pk}"
    assert subscription_call.field("items[0][price]") == "price_pro"
    assert (
        AuditLog.objects.all_tenants().filter(tenant=tenant, action="billing.subscribed").count()
        == 1
    )


def test_changing_the_plan_moves_the_same_subscription(fake_stripe: FakeStripe) -> None:
    tenant = CompanyFactory()
    first = billing.billing_subscription_start(tenant=tenant, actor="admin:anna", plan="basic")
    second = billing.billing_subscription_start(
        tenant=tenant, actor="admin:anna", plan="enterprise"
    )
    assert second.stripe_subscription_id == first.stripe_subscription_id
    assert len(fake_stripe.customers) == len(fake_stripe.subscriptions) == 1
    remote = fake_stripe.subscriptions[second.stripe_subscription_id]
    assert remote["items"]["data"][0]["price"]["id"] == "price_ent"
    assert Subscription.objects.get(tenant=tenant).plan == "enterprise"


def test_without_stripe_configured_a_subscription_is_refused_cleanly(settings) -> None:
    settings.STRIPE_API_KEY = ""
    settings.STRIPE_PRICE_IDS = PRICES
    tenant = CompanyFactory()
    with pytest.raises(billing.StripeNotConfigured):
        billing.billing_subscription_start(tenant=tenant, actor="admin:anna", plan="basic")
    assert Subscription.objects.get(tenant=tenant).stripe_customer_id == ""


# ----------------------------------------------------------------------------------- charges

CHARGE = {
    "amount_cents": 1250,
    "description": "125 Gesprächsminuten März 2027",
    "idempotency_key": "usage-2027-03-minutes",
}


def test_a_charge_retried_with_its_key_is_billed_once(fake_stripe: FakeStripe) -> None:
    tenant = CompanyFactory()
    first = execute_named(owner(tenant), "integration.createStripeCharge", CHARGE)
    again = execute_named(owner(tenant), "integration.createStripeCharge", CHARGE)
    assert first.error is None and again.error is None
    assert first.data is not None and again.data is not None
    assert (first.data["replayed"], again.data["replayed"]) == (False, True)
    assert first.data["charge"] == again.data["charge"]
    [item] = fake_stripe.invoice_items.values()
    assert first.data["charge"]["stripe_invoice_item_id"] == item["id"]
    assert (item["amount"], item["currency"], item["description"]) == (
        1250,
        "eur",
        "125 Gesprächsminuten März 2027",
    )
    assert StripeCharge.objects.all_tenants().count() == 1
    [charge_call] = [r for r in fake_stripe.requests if r.path == "/v1/invoiceitems"]
    assert charge_call.headers["idempotency-key"] == (
        f"askproai-charge-{tenant.pk}-usage-2027-03-minutes"
    )


def test_a_charge_whose_answer_was_lost_is_not_billed_twice(fake_stripe: FakeStripe) -> None:
    tenant = CompanyFactory()
    billing.billing_customer_ensure(tenant=tenant, actor="test")
    fake_stripe.answer_slowly(1.0)  # Stripe bills it, but we stop waiting at 0.5 s
    lost = execute_named(owner(tenant), "integration.createStripeCharge", CHARGE)
    assert lost.error is not None
    assert lost.error.error_type.name == "SERVICE_UNAVAILABLE"
    assert "timeout" in lost.error.message
    assert StripeCharge.objects.all_tenants().get().status == "failed"
    time.sleep(0.8)  # the slow answer completes at Stripe
    fake_stripe.answer_slowly(0)

    retried = execute_named(owner(tenant), "integration.createStripeCharge", CHARGE)
    assert retried.error is None
    assert retried.data is not None
    assert retried.data["charge"]["status"] == "succeeded"
    assert len(fake_stripe.invoice_items) == 1  # Stripe replayed the first answer
    [item] = fake_stripe.invoice_items.values()
    assert retried.data["charge"]["stripe_invoice_item_id"] == item["id"]


def test_a_key_reused_with_other_arguments_is_a_conflict(fake_stripe: FakeStripe) -> None:
    tenant = CompanyFactory()
    assert execute_named(owner(tenant), "integration.createStripeCharge", CHARGE).ok
    other = execute_named(
        owner(tenant), "integration.createStripeCharge", {**CHARGE, "amount_cents": 9999}
    )
    assert other.error is not None
    assert other.error.error_type.name == "CONFLICT"
    assert len(fake_stripe.invoice_items) == 1
    assert StripeCharge.objects.all_tenants().get().amount_cents == 1250


def test_keys_are_per_tenant(fake_stripe: FakeStripe) -> None:
    one, two = CompanyFactory(), CompanyFactory()
    assert execute_named(owner(one), "integration.createStripeCharge", CHARGE).ok
    assert execute_named(owner(two), "integration.createStripeCharge", CHARGE).ok
    assert len(fake_stripe.invoice_items) == 2
    customers = {item["customer"] for item in fake_stripe.invoice_items.values()}
    assert customers == {
        Subscription.objects.get(tenant=one).stripe_customer_id,
        Subscription.objects.get(tenant=two).stripe_customer_id,
    }


def test_a_stripe_outage_opens_the_breaker(fake_stripe: FakeStripe) -> None:
    tenant = CompanyFactory()
    billing.billing_customer_ensure(tenant=tenant, actor="test")
    fake_stripe.fail_next(500, stripe_error("api_error", "Something went wrong."), times=2)
    for n in range(2):
        with pytest.raises(ServiceUnavailable):
            billing.billing_charge_create(
                tenant=tenant,
                actor="test",
                amount_cents=100,
                currency="eur",
                description="Minuten",
                idempotency_key=f"outage-{n}",
            )
    assert get_breaker("stripe").current_state == "open"
    calls = len(fake_stripe.requests)
    with pytest.raises(ServiceUnavailable, match="temporarily unavailable"):
        billing.billing_charge_create(
            tenant=tenant,
            actor="test",
            amount_cents=100,
            currency="eur",
            description="Minuten",
            idempotency_key="outage-3",
        )
    assert len(fake_stripe.requests) == calls
    assert set(StripeCharge.objects.all_tenants().values_list("status", flat=True)) == {"failed"}


def test_a_refused_charge_does_not_trip_the_breaker(fake_stripe: FakeStripe) -> None:
    tenant = CompanyFactory()
    billing.billing_customer_ensure(tenant=tenant, actor="test")
    fake_stripe.fail_next(
        400, stripe_error("invalid_request_error", "Invalid currency: xyz"), times=3
    )
    for n in range(3):
        result = execute_named(
            owner(tenant),
            "integration.createStripeCharge",
            {**CHARGE, "currency": "xyz", "idempotency_key": f"refused-{n}"},
        )
        assert result.error is not None
        assert result.error.error_type.name == "INTEGRATION_ERROR"
    assert get_breaker("stripe").current_state == "closed"


def test_without_stripe_configured_a_charge_is_recorded_not_sent(settings) -> None:
    settings.STRIPE_API_KEY = ""
    tenant = CompanyFactory()
    result = execute_named(owner(tenant), "integration.createStripeCharge", CHARGE)
    assert result.error is None
    assert result.data is not None
    assert result.data["charge"]["status"] == "not_configured"
    assert StripeCharge.objects.all_tenants().get().status == "not_configured"


def test_only_owners_may_charge(fake_stripe: FakeStripe) -> None:
    tenant = CompanyFactory()
    result = execute_named(
        Principal.system(tenant, "test", Role.MANAGER), "integration.createStripeCharge", CHARGE
    )
    assert result.error is not None
    assert result.error.error_type.name == "PERMISSION_DENIED"
    assert fake_stripe.requests == []
    assert not StripeCharge.objects.all_tenants().exists()


# ----------------------------------------------------------------------------------- webhook

_event_seq = iter(range(1, 10_000))


def event(
    event_type: str, customer: str, obj: dict[str, Any], created: int | None = None
) -> dict[str, Any]:
    return {
        "id": f"evt_test{next(_event_seq):06d}",
        "object": "event",
        "api_version": billing.STRIPE_API_VERSION,
        "created": created if created is not None else int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": {"customer": customer, **obj}},
    }


def subscription_object(sub_id: str, status: str, price: str) -> dict[str, Any]:
    return {
        "id": sub_id,
        "object": "subscription",
        "status": status,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "object": "subscription_item",
                    "price": {"id": price, "object": "price"},
                    "current_period_end": int(time.time()) + 86400,
                }
            ],
        },
    }


def deliver(payload: dict[str, Any], *, secret: str = WEBHOOK_SECRET, signature: str | None = None):
    body = json.dumps(payload)
    if signature is None:
        signature = stripe.WebhookSignature.generate_signature_header(body, secret)
    return Client().post(
        "/webhooks/stripe", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


@pytest.fixture
def subscribed(settings) -> Subscription:
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_PRICE_IDS = PRICES
    tenant = CompanyFactory(subscription=None)
    return Subscription.objects.create(
        tenant=tenant,
        plan="professional",
        status="active",
        stripe_customer_id="cus_sonnenschein",
        stripe_subscription_id="sub_1",
    )


def test_a_bad_signature_gets_401_and_changes_nothing(subscribed: Subscription) -> None:
    payload = event(
        "customer.subscription.updated",
        "cus_sonnenschein",
        subscription_object("sub_1", "active", "price_ent"),
    )
    body = json.dumps(payload)
    stale = stripe.WebhookSignature.generate_signature_header(
        body, WEBHOOK_SECRET, timestamp=int(time.time()) - 600
    )
    for response in (
        deliver(payload, secret="whsec_other"),
        deliver(payload, signature=""),
        deliver(payload, signature=stale),  # older than the SDK's 5-minute tolerance
    ):
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "AUTHENTICATION_FAILED"
    subscribed.refresh_from_db()
    assert subscribed.plan == "professional"
    assert not WebhookEvent.objects.exists()


def test_a_plan_change_applies_once_and_a_replay_changes_nothing(
    subscribed: Subscription,
) -> None:
    payload = event(
        "customer.subscription.updated",
        "cus_sonnenschein",
        subscription_object("sub_1", "active", "price_ent"),
    )
    first = deliver(payload)
    assert (first.status_code, first.json()) == (200, {"received": True, "result": "applied"})
    subscribed.refresh_from_db()
    assert (subscribed.plan, subscribed.status) == ("enterprise", "active")
    audits = AuditLog.objects.all_tenants().filter(tenant=subscribed.tenant).count()

    replay = deliver(payload)
    assert replay.json() == {"received": True, "result": "replayed"}
    subscribed.refresh_from_db()
    assert subscribed.plan == "enterprise"
    assert AuditLog.objects.all_tenants().filter(tenant=subscribed.tenant).count() == audits
    [recorded] = WebhookEvent.objects.all()
    assert (recorded.provider, recorded.event_id, recorded.tenant_id) == (
        "stripe",
        payload["id"],
        subscribed.tenant_id,
    )


def test_a_lapsed_subscription_lowers_limits_and_deletes_nothing(
    subscribed: Subscription,
) -> None:
    tenant = subscribed.tenant
    branches = BranchFactory.create_batch(3, tenant=tenant)
    StaffFactory.create_batch(8, tenant=tenant, branch=branches[0])
    assert plan_limits(effective_plan(tenant)).branches == 5

    failed = event("invoice.payment_failed", "cus_sonnenschein", {"subscription": "sub_1"})
    assert deliver(failed).json()["result"] == "applied"
    tenant.refresh_from_db()
    assert tenant.subscription.status == "past_due"
    assert tenant.subscription.plan == "professional"  # kept for when it is paid
    assert effective_plan(tenant) == "basic"
    assert plan_limits(effective_plan(tenant)).branches == 1
    quota = execute_named(owner(tenant), "tenant.getTenantQuota", {})
    assert quota.data is not None
    assert quota.data["plan"] == "basic"
    assert quota.data["limits"]["branches"] == 1
    assert Branch.objects.all_tenants().filter(tenant=tenant).count() == 3
    assert Staff.objects.all_tenants().filter(tenant=tenant).count() == 8

    paid = event("invoice.paid", "cus_sonnenschein", {"subscription": "sub_1"})
    assert deliver(paid).json()["result"] == "applied"
    tenant.refresh_from_db()
    assert (tenant.subscription.status, effective_plan(tenant)) == ("active", "professional")

    deleted = event(
        "customer.subscription.deleted",
        "cus_sonnenschein",
        subscription_object("sub_1", "canceled", "price_pro"),
    )
    assert deliver(deleted).json()["result"] == "applied"
    tenant.refresh_from_db()
    assert tenant.subscription.status == "canceled"
    assert effective_plan(tenant) == "basic"
    assert Branch.objects.all_tenants().filter(tenant=tenant).count() == 3


def test_an_older_event_arriving_late_does_not_undo_a_newer_one(
    subscribed: Subscription,
) -> None:
    now = int(time.time())
    newer = event(
        "customer.subscription.updated",
        "cus_sonnenschein",
        subscription_object("sub_1", "active", "price_ent"),
        created=now,
    )
    older = event(
        "customer.subscription.updated",
        "cus_sonnenschein",
        subscription_object("sub_1", "past_due", "price_basic"),
        created=now - 60,
    )
    assert deliver(newer).json()["result"] == "applied"
    assert deliver(older).json()["result"] == "stale"
    subscribed.refresh_from_db()
    assert (subscribed.plan, subscribed.status) == ("enterprise", "active")


def test_an_event_for_an_unknown_customer_is_acknowledged(subscribed: Subscription) -> None:
    payload = event(
        "customer.subscription.deleted",
        "cus_someone_else",
        subscription_object("sub_9", "canceled", "price_pro"),
    )
    response = deliver(payload)
    assert response.json() == {"received": True, "result": "unknown_customer"}
    subscribed.refresh_from_db()
    assert subscribed.status == "active"


def test_without_a_webhook_secret_events_are_refused_for_stripe_to_retry(
    subscribed: Subscription, settings
) -> None:
    payload = event("invoice.payment_failed", "cus_sonnenschein", {"subscription": "sub_1"})
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = deliver(payload)
    assert response.status_code == 503
    subscribed.refresh_from_db()
    assert subscribed.status == "active"
    assert not WebhookEvent.objects.exists()


def test_the_stripe_conflict_error_maps_to_conflict(fake_stripe: FakeStripe) -> None:
    tenant = CompanyFactory()
    billing.billing_customer_ensure(tenant=tenant, actor="test")
    fake_stripe.fail_next(400, stripe_error("idempotency_error", "Keys ... same parameters"))
    with pytest.raises(Conflict):
        billing.billing_charge_create(
            tenant=tenant,
            actor="test",
            amount_cents=100,
            currency="eur",
            description="Minuten",
            idempotency_key="conflicting",
        )


def test_the_stripe_subscribe_command(fake_stripe: FakeStripe) -> None:
    from io import StringIO

    from django.core.management import call_command

    tenant = CompanyFactory()
    out = StringIO()
    call_command(
        "stripe_subscribe", "--tenant", str(tenant.pk), "--plan", "basic", "--json", stdout=out
    )
    result = json.loads(out.getvalue())
    [remote] = fake_stripe.subscriptions.values()
    assert (result["tenant_id"], result["plan"], result["status"]) == (tenant.pk, "basic", "active")
    assert result["stripe_subscription_id"] == remote["id"]
    assert AuditLog.objects.all_tenants().get(tenant=tenant, action="billing.subscribed").actor == (
        "cli:stripe_subscribe"
    )
