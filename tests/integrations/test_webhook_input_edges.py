"""Signed webhook deliveries with fields we cannot take: 400 in the envelope, nothing written."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from integrations.models import CalcomBusyBlock, WebhookEvent
from mcp_core.models import AuditLog
from staff.models import TimeBlock
from tenants.models import Subscription
from tests.factories import CompanyFactory
from tests.fakes.calcom import sign
from tests.integrations.conftest import EVENT_TYPE_ID, WEBHOOK_SECRET
from tests.integrations.retell_helpers import TEST_KEY, function
from tests.integrations.test_stripe_billing import (
    PRICES,
    deliver,
    event,
    subscription_object,
)
from tests.integrations.test_stripe_billing import WEBHOOK_SECRET as STRIPE_SECRET

pytestmark = pytest.mark.django_db

ENVELOPE_KEYS = {"code", "type", "message", "details", "timestamp", "correlation_id"}


@pytest.fixture
def subscribed(settings) -> Subscription:
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_SECRET
    settings.STRIPE_PRICE_IDS = PRICES
    return Subscription.objects.create(
        tenant=CompanyFactory(subscription=None),
        plan="professional",
        status="active",
        stripe_customer_id="cus_sonnenschein",
        stripe_subscription_id="sub_1",
    )


def assert_refused(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert set(error) == ENVELOPE_KEYS
    assert (error["type"], error["code"]) == ("VALIDATION_FAILED", 1001)
    assert field in error["details"], error["details"]
    return error


def test_a_calcom_uid_longer_than_its_column_is_a_400(calcom, client):
    tenant = calcom.world.tenant
    payload = {
        "triggerEvent": "BOOKING_CREATED",
        "payload": {
            "uid": "u" * 101,
            "eventTypeId": EVENT_TYPE_ID,
            "startTime": "2027-03-08T09:00:00Z",
            "endTime": "2027-03-08T09:30:00Z",
        },
    }
    body = json.dumps(payload).encode()

    response = client.post(
        "/webhooks/calcom",
        data=body,
        content_type="application/json",
        HTTP_X_CAL_SIGNATURE_256=sign(body, WEBHOOK_SECRET),
    )

    error = assert_refused(response, "uid")
    assert error["message"] == "A booking uid has at most 100 characters."
    assert WebhookEvent.objects.count() == 0
    assert TimeBlock.objects.for_tenant(tenant).count() == 0
    assert CalcomBusyBlock.objects.for_tenant(tenant).count() == 0


def test_a_calcom_time_in_year_9999_is_a_400(calcom, client):
    payload = {
        "triggerEvent": "BOOKING_CREATED",
        "payload": {
            "uid": "calcom-direct-1",
            "eventTypeId": EVENT_TYPE_ID,
            "startTime": "9999-12-31T23:30:00Z",
            "endTime": "9999-12-31T23:59:00Z",
        },
    }
    body = json.dumps(payload).encode()
    response = client.post(
        "/webhooks/calcom",
        data=body,
        content_type="application/json",
        HTTP_X_CAL_SIGNATURE_256=sign(body, WEBHOOK_SECRET),
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "VALIDATION_FAILED"
    assert WebhookEvent.objects.count() == 0
    assert TimeBlock.objects.for_tenant(calcom.world.tenant).count() == 0


def _subscription_event() -> dict[str, Any]:
    return event(
        "customer.subscription.updated",
        "cus_sonnenschein",
        subscription_object("sub_1", "active", "price_ent"),
    )


def _malformed(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    payload = copy.deepcopy(_subscription_event())
    target: Any = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("created",), "gestern", "created"),
        (("created",), 10**30, "created"),
        (("data",), "kein Objekt", "data"),
        (("data", "object", "items", "data"), {"0": "x"}, "data.object.items.data"),
        (("data", "object", "current_period_end"), True, "data.object.current_period_end"),
        (("data", "object", "customer"), 42, "data.object.customer.str"),
        (("id",), 17, "id"),
    ],
    ids=[
        "created-text",
        "created-huge",
        "data-string",
        "items-not-a-list",
        "period-end-boolean",
        "customer-number",
        "id-number",
    ],
)
def test_a_signed_stripe_event_with_malformed_fields_is_a_400(
    subscribed: Subscription, path, value, field
) -> None:
    audits = AuditLog.objects.for_tenant(subscribed.tenant).count()

    response = deliver(_malformed(path, value))

    assert_refused(response, field)
    subscribed.refresh_from_db()
    assert (subscribed.plan, subscribed.status) == ("professional", "active")
    assert WebhookEvent.objects.count() == 0
    assert AuditLog.objects.for_tenant(subscribed.tenant).count() == audits


def test_a_signed_stripe_event_nested_deep_or_with_nul_is_a_400(subscribed: Subscription):
    deep = _malformed(("data", "object", "metadata"), json.loads("[" * 400 + "]" * 400))
    assert assert_refused(deliver(deep), "body")
    nul = _malformed(("data", "object", "status"), "active\u0000")
    assert assert_refused(deliver(nul), "body")
    assert WebhookEvent.objects.count() == 0


def test_a_signed_retell_function_call_nested_deep_is_a_400(client, settings):
    settings.RETELL_API_KEY = TEST_KEY
    sent = function("check_availability", {"x": json.loads("[" * 500 + "]" * 500)}, {})
    response = client.post(
        sent.path,
        data=sent.body,
        content_type="application/json",
        HTTP_X_RETELL_SIGNATURE=sent.signature,
    )
    error = assert_refused(response, "body")
    assert error["message"] == "JSON may nest at most 32 levels."
