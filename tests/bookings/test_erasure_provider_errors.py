"""A provider's error text may quote the customer's number or name; erasure removes it from
the SMS record, the outbox message that carried the confirmation and the audit row of its
dead-lettering — through the REST front door, on both databases."""

from __future__ import annotations

import json

import pytest

from bookings.models import Customer, SmsMessage
from bookings.notifications.sms import NotificationError
from mcp_core.models import AuditLog, OutboxMessage
from tests.bookings.test_booking_api import Api
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    _fresh_calendar,
    _frozen_time,
    at,
    make_world,
)

pytestmark = pytest.mark.django_db

PHONE = "+4915790004321"
NAME = "Ida Quellmalz"


class RefusingSms:
    """An SMS provider that refuses every number, quoting it as real providers do."""

    name = "refusing"
    initial_status = "sent"

    def send(self, to: str, body: str) -> str:
        raise NotificationError(f"The 'To' number {to} ({NAME}) is not reachable", code="21211")


def _rows_quoting_the_customer(tenant_id: int) -> list[str]:
    texts = [
        *SmsMessage.objects.for_tenant(tenant_id).values_list("error_message", flat=True),
        *OutboxMessage.objects.for_tenant(tenant_id).values_list("last_error", flat=True),
        *(
            json.dumps(c)
            for c in AuditLog.objects.for_tenant(tenant_id).values_list("changes", flat=True)
        ),
    ]
    return [text for text in texts if "4321" in text or "Quellmalz" in text]


def test_erasure_removes_provider_error_texts_that_quote_the_customer(client, settings):
    settings.SMS_BACKEND = f"{RefusingSms.__module__}.RefusingSms"
    settings.MCP_MAX_RETRIES = 0  # the first failure dead-letters the confirmation
    world = make_world()
    api = Api(client, world)
    booked = api.post(
        "bookings",
        {
            "service_id": world.service.pk,
            "branch_id": world.branch.pk,
            "start_time": at(10).isoformat(),
            "staff_id": world.anna.pk,
            "customer_phone": PHONE,
            "customer_name": NAME,
        },
    )
    assert booked.status_code == 201, booked.content
    tenant_id = world.tenant.pk
    customer = Customer.objects.for_tenant(tenant_id).get(phone=PHONE)
    assert OutboxMessage.objects.for_tenant(tenant_id).filter(status="dead").count() == 1
    assert len(_rows_quoting_the_customer(tenant_id)) >= 3  # SMS record, outbox, dead-letter audit

    erased = api.post(
        "execute",
        {
            "service": "customer",
            "operation": "eraseCustomerData",
            "params": {"customer_id": customer.pk},
        },
    )

    assert erased.status_code == 200, erased.content
    assert _rows_quoting_the_customer(tenant_id) == []
    message = SmsMessage.objects.for_tenant(tenant_id).get()
    assert (message.status, message.error_code, message.to, message.error_message) == (
        "failed",
        "21211",
        "",
        "",
    )
