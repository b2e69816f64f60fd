"""A booking's confirmation SMS goes out in the tenant's wording through Twilio and is
recorded; when Twilio is down or not configured the booking still succeeds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from bookings.models import Appointment, SmsMessage
from bookings.notifications.texts import sms_template_set
from tests.bookings.test_booking_service import NOW, book, make_world
from tests.fakes.twilio import FakeTwilio, twilio_error
from tests.integrations.test_twilio_sms import ACCOUNT_SID, AUTH_TOKEN, FROM

pytestmark = pytest.mark.django_db


@pytest.fixture
def twilio(settings: Any) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM = FROM
    settings.TWILIO_API_BASE = fake.url
    settings.INTEGRATION_HTTP_TIMEOUT = 0.5
    with time_machine.travel(NOW, tick=True):
        yield fake
    fake.stop()


def test_the_confirmation_uses_the_tenants_template_and_is_recorded(twilio: FakeTwilio) -> None:
    world = make_world()
    sms_template_set(
        tenant=world.tenant,
        actor="admin:anna",
        kind="confirmation",
        body="{firma}: {dienstleistung} am {termin} bei {mitarbeiter}. Nr. {nummer}",
    )
    data = book(world)
    assert data["notifications_sent"] == ["sms"]
    number = data["confirmation_number"]
    expected = (
        f"Salon Sonnenschein: Damenhaarschnitt am Mo. 08.03.2027 um 10:00 Uhr bei Anna. "
        f"Nr. {number}"
    )
    assert [request.field("Body") for request in twilio.requests] == [expected]
    message = SmsMessage.objects.all_tenants().get()
    assert (message.kind, message.appointment_id, message.to, message.status) == (
        "confirmation",
        data["appointment"]["id"],
        "+49301234567",
        "queued",
    )


def test_a_booking_succeeds_while_twilio_is_down(twilio: FakeTwilio) -> None:
    world = make_world()
    twilio.fail_next(500, twilio_error(500, 20500, "Internal Server Error"))
    data = book(world)
    assert data["notifications_sent"] == []
    assert Appointment.objects.all_tenants().filter(pk=data["appointment"]["id"]).exists()
    message = SmsMessage.objects.all_tenants().get()
    assert (message.status, message.error_code) == ("failed", "20500")


def test_a_booking_succeeds_without_twilio_configured(twilio: FakeTwilio, settings) -> None:
    settings.TWILIO_FROM = ""
    world = make_world()
    data = book(world)
    assert data["notifications_sent"] == []
    assert twilio.requests == []
    assert SmsMessage.objects.all_tenants().get().status == "not_configured"
