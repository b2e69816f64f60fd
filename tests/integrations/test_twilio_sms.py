"""SMS through Twilio's real SDK against the local fake: recording, failures, the breaker,
time-outs, not configured, per-tenant templates and integration.sendSMSNotification."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bookings import notifications
from bookings.models import SmsMessage, SmsTemplate
from bookings.notifications.texts import (
    DEFAULT_TEMPLATES,
    InvalidSmsTemplate,
    render_booking_message,
    sms_template_errors,
    sms_template_set,
)
from mcp_core.auth import Principal
from mcp_core.breakers import get_breaker
from mcp_core.models import AuditLog
from mcp_core.orchestrator import execute_named
from mcp_core.permissions import Role
from tests.factories import AppointmentFactory, CompanyFactory, CustomerFactory
from tests.fakes.twilio import FakeTwilio, twilio_error

pytestmark = pytest.mark.django_db

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-token"
FROM = "+4930123456789"
TO = "+4915112345678"


@pytest.fixture
def twilio(settings: Any) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM = FROM
    settings.TWILIO_API_BASE = fake.url
    settings.PUBLIC_BASE_URL = "https://askproai.example"
    settings.INTEGRATION_HTTP_TIMEOUT = 0.5
    settings.MCP_CIRCUIT_FAILURE_THRESHOLD = 3
    yield fake
    fake.stop()


def test_an_sms_goes_through_the_real_sdk_and_is_recorded(twilio: FakeTwilio) -> None:
    tenant = CompanyFactory()
    sid = notifications.send_sms(TO, "Hallo Welt", tenant=tenant, kind="custom")

    [request] = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected_auth}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.field("To") == TO
    assert request.field("From") == FROM
    assert request.field("Body") == "Hallo Welt"
    assert request.field("StatusCallback") == "https://askproai.example/webhooks/sms/status"

    message = SmsMessage.objects.all_tenants().get()
    assert sid == twilio.messages[0]["sid"] == message.provider_sid
    assert (message.tenant, message.kind, message.to, message.provider, message.status) == (
        tenant,
        "custom",
        TO,
        "twilio",
        "queued",
    )


def test_a_refused_number_is_recorded_with_twilios_code_and_spares_the_breaker(
    twilio: FakeTwilio,
) -> None:
    tenant = CompanyFactory()
    twilio.fail_next(400, twilio_error(400, 21211, "The 'To' number is not valid."), times=5)
    for _ in range(5):
        with pytest.raises(notifications.NotificationError) as failure:
            notifications.send_sms(TO, "Hallo", tenant=tenant)
        assert failure.value.code == "21211"
    assert get_breaker("twilio").current_state == "closed"
    assert list(
        SmsMessage.objects.all_tenants().order_by().values_list("status", "error_code").distinct()
    ) == [("failed", "21211")]


def test_an_outage_is_recorded_and_opens_the_breaker(twilio: FakeTwilio) -> None:
    tenant = CompanyFactory()
    twilio.fail_next(500, twilio_error(500, 20500, "Internal Server Error"), times=3)
    for _ in range(3):
        with pytest.raises(notifications.NotificationError) as failure:
            notifications.send_sms(TO, "Hallo", tenant=tenant)
        assert failure.value.not_sent is False
    assert get_breaker("twilio").current_state == "open"
    assert len(twilio.requests) == 3

    # While open, nothing reaches Twilio; the attempt is still recorded.
    with pytest.raises(notifications.NotificationError, match="temporarily unavailable") as open_:
        notifications.send_sms(TO, "Hallo", tenant=tenant)
    assert open_.value.not_sent is True
    assert len(twilio.requests) == 3
    assert SmsMessage.objects.all_tenants().filter(status="failed").count() == 4
    assert set(SmsMessage.objects.all_tenants().values_list("error_code", flat=True)) == {
        "20500",
        "",
    }


def test_a_hanging_twilio_times_out_within_the_configured_limit(twilio: FakeTwilio) -> None:
    tenant = CompanyFactory()
    twilio.answer_slowly(3)
    started = time.monotonic()
    with pytest.raises(notifications.NotificationError, match=r"(?i)timeout|timed out"):
        notifications.send_sms(TO, "Hallo", tenant=tenant)
    assert time.monotonic() - started < 2
    assert SmsMessage.objects.all_tenants().get().status == "failed"


def test_without_credentials_the_sms_is_skipped_not_an_error(twilio: FakeTwilio, settings) -> None:
    settings.TWILIO_AUTH_TOKEN = ""
    tenant = CompanyFactory()
    with pytest.raises(notifications.SmsNotConfigured):
        notifications.send_sms(TO, "Hallo", tenant=tenant)
    assert twilio.requests == []
    assert SmsMessage.objects.all_tenants().get().status == "not_configured"
    assert get_breaker("twilio").current_state == "closed"


def test_a_booking_confirmation_uses_the_tenants_template(twilio: FakeTwilio) -> None:
    appointment = AppointmentFactory()
    tenant = appointment.tenant
    sms_template_set(
        tenant=tenant,
        actor="admin:anna",
        kind="confirmation",
        body="{firma}: {kunde}, bis {termin}! Nr. {nummer}",
    )
    start = appointment.start_time.astimezone(ZoneInfo(appointment.branch.time_zone))
    report = notifications.deliver_booking_confirmation(
        notifications.BookingConfirmation(
            confirmation_number=appointment.confirmation_number,
            service_name=appointment.service.name,
            branch_name=appointment.branch.name,
            staff_name=appointment.staff.name,
            start=start,
            customer_name="Erika",
            customer_phone=TO,
            customer_email="",
        ),
        tenant=tenant,
        appointment_id=appointment.pk,
    )
    assert report.sent == ["sms"]
    weekday = ("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So.")[start.weekday()]
    expected = (
        f"{tenant.name}: Erika, bis {weekday} {start:%d.%m.%Y} um {start:%H:%M} Uhr! "
        f"Nr. {appointment.confirmation_number}"
    )
    assert twilio.requests[0].field("Body") == expected
    message = SmsMessage.objects.all_tenants().get()
    assert (message.kind, message.appointment_id, message.body) == (
        "confirmation",
        appointment.pk,
        expected,
    )


def test_templates_are_checked_when_saved() -> None:
    tenant = CompanyFactory()
    assert sms_template_errors("reminder", "Bis {termin}!") == []
    assert sms_template_errors("reminder", "Bis {datum} um {uhrzeit}!") == []
    assert sms_template_errors("reminder", "Bis {datum}!") == [
        "The time is missing: use {termin}, or {datum} and {uhrzeit}."
    ]
    assert sms_template_errors("confirmation", "Bis {termin}!") == [
        "Required placeholder(s) missing: {nummer}"
    ]
    assert sms_template_errors("reminder", "Bis {termin} {passwort}")[0].startswith(
        "Unknown placeholder {passwort}"
    )
    assert sms_template_errors("reminder", "{termin.__class__}")[0].startswith(
        "Unknown placeholder"
    )
    assert sms_template_errors("reminder", "{termin:>99999}") == [
        "Placeholder {termin} may not carry a format (':' or '!')."
    ]
    assert sms_template_errors("reminder", "Bis {termin")[0].startswith("Braces do not match")
    assert sms_template_errors("custom", "{termin}")[0].startswith("Unknown kind")
    with pytest.raises(InvalidSmsTemplate):
        sms_template_set(tenant=tenant, actor="admin:anna", kind="reminder", body="{kunde}")
    assert not SmsTemplate.objects.all_tenants().exists()
    assert not AuditLog.objects.all_tenants().filter(action__startswith="sms_template").exists()


def test_the_defaults_apply_to_tenants_without_their_own() -> None:
    appointment = AppointmentFactory()
    other = AppointmentFactory()
    sms_template_set(
        tenant=other.tenant, actor="admin:anna", kind="reminder", body="Anders: {termin}"
    )
    context = notifications.BookingConfirmation(
        confirmation_number="ABC123",
        service_name="Haarschnitt",
        branch_name="Berlin Mitte",
        staff_name="Anna",
        start=appointment.start_time.astimezone(ZoneInfo("Europe/Berlin")),
        customer_name="Erika",
        customer_phone=TO,
        customer_email="",
    )
    text = render_booking_message(appointment.tenant, "reminder", context)
    assert text.startswith("Erinnerung: Ihr Termin Haarschnitt ist am ")
    assert text.endswith(
        "bei Berlin Mitte. Absagen oder verschieben mit der Bestätigungs-Nr: ABC123"
    )
    assert DEFAULT_TEMPLATES["reminder"].startswith("Erinnerung")
    assert render_booking_message(other.tenant, "reminder", context).startswith("Anders: ")


# ------------------------------------------------------------ integration.sendSMSNotification


def principal(tenant: Any, role: str = Role.STAFF) -> Principal:
    return Principal.system(tenant, "test", role)


def test_the_operation_sends_a_template_about_an_appointment(twilio: FakeTwilio) -> None:
    appointment = AppointmentFactory()
    result = execute_named(
        principal(appointment.tenant),
        "integration.sendSMSNotification",
        {"kind": "reminder", "appointment_id": appointment.pk},
    )
    assert result.error is None, result.error
    assert result.data is not None
    sms = result.data["sms"]
    assert result.data["sent"] is True
    assert (sms["kind"], sms["to"], sms["status"], sms["appointment_id"]) == (
        "reminder",
        appointment.customer.phone,
        "queued",
        appointment.pk,
    )
    assert twilio.requests[0].field("Body").startswith("Erinnerung: Ihr Termin")
    assert (
        AuditLog.objects.all_tenants().filter(tenant=appointment.tenant, action="sms.sent").count()
        == 1
    )


def test_the_operation_only_reaches_the_callers_own_customers(twilio: FakeTwilio) -> None:
    tenant = CompanyFactory()
    foreign = CustomerFactory(phone="+4915112345670")
    CustomerFactory(tenant=tenant, phone="+4915112345671")
    foreign_appointment = AppointmentFactory()
    for args in (
        {"customer_id": foreign.pk, "message": "Hallo"},
        {"phone": foreign.phone, "message": "Hallo"},
        {"kind": "reminder", "appointment_id": foreign_appointment.pk},
    ):
        result = execute_named(principal(tenant), "integration.sendSMSNotification", args)
        assert result.error is not None
        assert result.error.error_type.name == "RESOURCE_NOT_FOUND", args
    assert twilio.requests == []
    assert not SmsMessage.objects.all_tenants().exists()


def test_the_operation_reports_a_refusal_and_an_outage_in_the_envelope(
    twilio: FakeTwilio,
) -> None:
    customer = CustomerFactory()
    args = {"customer_id": customer.pk, "message": "Hallo"}
    twilio.fail_next(400, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
    refused = execute_named(principal(customer.tenant), "integration.sendSMSNotification", args)
    assert refused.error is not None
    assert refused.error.error_type.name == "INTEGRATION_ERROR"
    assert refused.error.details["error_code"] == "21610"

    twilio.fail_next(503, twilio_error(503, 20503, "Service Unavailable"))
    down = execute_named(principal(customer.tenant), "integration.sendSMSNotification", args)
    assert down.error is not None
    assert down.error.error_type.name == "SERVICE_UNAVAILABLE"
    assert list(
        SmsMessage.objects.all_tenants().order_by("pk").values_list("status", "error_code")
    ) == [
        ("failed", "21610"),
        ("failed", "20503"),
    ]


def test_the_operation_validates_its_arguments(twilio: FakeTwilio) -> None:
    customer = CustomerFactory()
    for args in (
        {"customer_id": customer.pk},  # custom without a message
        {"kind": "reminder", "customer_id": customer.pk},  # template without appointment
        {"customer_id": customer.pk, "phone": customer.phone, "message": "x"},
        {"message": "Hallo"},  # no recipient
        {"phone": "not a number", "message": "Hallo"},
        {"customer_id": customer.pk, "message": "x" * 1601},
    ):
        result = execute_named(principal(customer.tenant), "integration.sendSMSNotification", args)
        assert result.error is not None
        assert result.error.error_type.name == "VALIDATION_FAILED", args
    assert twilio.requests == []
    assert not SmsMessage.objects.all_tenants().exists()


def test_without_twilio_configured_the_operation_records_and_skips(twilio, settings) -> None:
    settings.TWILIO_ACCOUNT_SID = ""
    customer = CustomerFactory()
    result = execute_named(
        principal(customer.tenant),
        "integration.sendSMSNotification",
        {"customer_id": customer.pk, "message": "Hallo"},
    )
    assert result.error is None
    assert result.data is not None
    assert (result.data["sent"], result.data["sms"]["status"]) == (False, "not_configured")


def test_erasing_a_customer_empties_their_recorded_sms(twilio: FakeTwilio) -> None:
    from bookings.services import customer_erase

    appointment = AppointmentFactory(customer__phone="+4915112345672")
    customer = appointment.customer
    notifications.send_sms(customer.phone, "Hallo Erika", tenant=appointment.tenant)
    notifications.send_sms(
        customer.phone,
        "Erinnerung",
        tenant=appointment.tenant,
        kind="reminder",
        appointment_id=appointment.pk,
    )
    other = notifications.send_sms(TO, "Hallo Max", tenant=appointment.tenant)
    customer_erase(tenant=appointment.tenant, actor="admin:anna", customer_id=customer.pk)
    rows = SmsMessage.objects.all_tenants().order_by("pk").values_list("to", "body", "status")
    assert list(rows) == [("", "", "queued"), ("", "", "queued"), (TO, "Hallo Max", "queued")]
    assert SmsMessage.objects.all_tenants().get(provider_sid=other).to == TO


def test_an_appointment_is_reminded_once_also_by_hand(twilio: FakeTwilio) -> None:
    appointment = AppointmentFactory()
    args = {"kind": "reminder", "appointment_id": appointment.pk}
    first = execute_named(principal(appointment.tenant), "integration.sendSMSNotification", args)
    assert first.error is None
    again = execute_named(principal(appointment.tenant), "integration.sendSMSNotification", args)
    assert again.error is not None
    assert again.error.error_type.name == "CONFLICT"
    assert len(twilio.requests) == 1
    assert (
        SmsMessage.objects.all_tenants().filter(appointment=appointment, kind="reminder").count()
        == 1
    )


def test_the_operation_finds_the_customer_by_a_national_number(twilio: FakeTwilio) -> None:
    customer = CustomerFactory(phone="+4930901820")
    result = execute_named(
        principal(customer.tenant),
        "integration.sendSMSNotification",
        {"phone": "030 901820", "message": "Ihre Bestellung ist da."},
    )
    assert result.error is None
    assert twilio.requests[0].field("To") == "+4930901820"
    assert twilio.requests[0].field("Body") == "Ihre Bestellung ist da."
