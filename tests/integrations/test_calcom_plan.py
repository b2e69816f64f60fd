"""Cal.com deliveries for a tenant whose plan in force lacks `calendar_sync` (a lapsed
subscription): acknowledged, so Cal.com stops retrying, and nothing changes (tenants.policy)."""

from __future__ import annotations

import pytest

from bookings.enums import AppointmentStatus
from bookings.models import Appointment
from integrations.models import WebhookEvent
from tenants.enums import Plan, SubscriptionStatus
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    _fresh_calendar,
    _frozen_time,
    book,
    outbox,
)
from tests.integrations.conftest import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


def test_a_lapsed_tenants_calcom_delivery_is_acknowledged_and_changes_nothing(calcom, client):
    book(calcom.world)
    booking = calcom.fake.active_bookings()[0]
    body, signature = calcom.fake.webhook("BOOKING_CANCELLED", booking, secret=WEBHOOK_SECRET)
    subscription = calcom.world.tenant.subscription
    subscription.plan, subscription.status = Plan.PROFESSIONAL, SubscriptionStatus.PAST_DUE
    subscription.save()

    response = client.post(
        "/webhooks/calcom",
        data=body,
        content_type="application/json",
        HTTP_X_CAL_SIGNATURE_256=signature,
    )

    assert response.status_code == 200
    assert response.json() == {
        "status": "ignored",
        "reason": "the tenant's plan has no calendar sync",
    }
    appointment = Appointment.objects.for_tenant(calcom.world.tenant).get()
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert not WebhookEvent.objects.exists()
