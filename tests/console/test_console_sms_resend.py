"""One-click "SMS erneut senden" in the inbox "Probleme", through the admin's front door:
sent again through the notification service with today's text, audited as the operator,
answered in German, and only once however often (or however simultaneously) it is clicked."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import reverse

from bookings.enums import AppointmentStatus, SmsKind, SmsStatus
from bookings.models import SmsMessage
from bookings.notifications import sent_messages
from mcp_core.models import AuditLog
from tests.factories import AppointmentFactory, OperatorProfileFactory

PROBLEMS = "admin:console_problems"
ANSWERS = ("Diese SMS wurde bereits erneut gesendet.", "SMS erneut gesendet.")


def _operator_client(tenant) -> tuple[Client, str]:
    profile = OperatorProfileFactory(tenant=tenant)
    profile.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=("bookings", "routing"))
    )
    client = Client()
    client.force_login(profile.user)
    return client, profile.user.get_username()


def _failed_sms(appointment, *, body: str = "Ihr Termin am alten Tag") -> SmsMessage:
    return SmsMessage.objects.create(
        tenant=appointment.tenant,
        appointment=appointment,
        kind=SmsKind.CONFIRMATION,
        to=appointment.customer.phone,
        body=body,
        provider="twilio",
        provider_sid="SM-old",
        status=SmsStatus.UNDELIVERED,
        error_code="30003",
        error_message="Unreachable destination handset",
    )


def _flash(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


@pytest.fixture(autouse=True)
def _console_sms(settings):
    settings.SMS_BACKEND = "console"
    sent_messages.clear()


@pytest.mark.django_db
def test_a_failed_sms_is_sent_again_once_as_the_operator():
    appointment = AppointmentFactory()
    sms = _failed_sms(appointment)
    client, username = _operator_client(appointment.tenant)

    page = client.get(reverse(PROBLEMS))
    assert f'name="resend_sms" value="{sms.pk}"' in page.content.decode()
    assert "SMS erneut senden" in page.content.decode()

    answer = client.post(reverse(PROBLEMS), {"resend_sms": sms.pk}, follow=True)
    assert "SMS erneut gesendet." in _flash(answer)
    sms.refresh_from_db()
    assert sms.status == SmsStatus.SENT and sms.provider == "console"
    assert sms.provider_sid.startswith("console-") and not sms.error_code
    assert "alten Tag" not in sms.body  # rendered anew from the appointment as it is now
    assert appointment.confirmation_number in sms.body
    assert [(m.to, m.body) for m in sent_messages] == [(appointment.customer.phone, sms.body)]
    audit = AuditLog.objects.for_tenant(appointment.tenant).get(action="sms.resent")
    assert audit.actor == f"admin:{username}"
    assert audit.changes["before"] == {"status": "undelivered", "error_code": "30003"}
    assert f'value="{sms.pk}"' not in answer.content.decode()  # gone from the inbox

    again = client.post(reverse(PROBLEMS), {"resend_sms": sms.pk}, follow=True)
    assert "Diese SMS wurde bereits erneut gesendet." in _flash(again)
    assert len(sent_messages) == 1
    assert AuditLog.objects.for_tenant(appointment.tenant).filter(action="sms.resent").count() == 1


@pytest.mark.django_db
def test_another_tenants_sms_is_not_found_and_stays_as_it_was():
    mine, theirs = AppointmentFactory(), AppointmentFactory()
    foreign = _failed_sms(theirs)
    client, _username = _operator_client(mine.tenant)

    answer = client.post(reverse(PROBLEMS), {"resend_sms": foreign.pk}, follow=True)

    assert "Diese SMS gibt es nicht (mehr)." in _flash(answer)
    foreign.refresh_from_db()
    assert foreign.status == SmsStatus.UNDELIVERED and foreign.provider_sid == "SM-old"
    assert sent_messages == []


@pytest.mark.django_db
def test_a_cancelled_appointments_confirmation_is_not_sent_again():
    appointment = AppointmentFactory(status=AppointmentStatus.CANCELLED)
    sms = _failed_sms(appointment)
    client, _username = _operator_client(appointment.tenant)

    answer = client.post(reverse(PROBLEMS), {"resend_sms": sms.pk}, follow=True)

    assert "Der Termin wurde storniert; diese SMS wird nicht erneut gesendet." in _flash(answer)
    sms.refresh_from_db()
    assert sms.status == SmsStatus.UNDELIVERED and sent_messages == []


@pytest.mark.django_db
def test_a_provider_failing_again_leaves_the_sms_in_the_inbox(settings):
    settings.SMS_BACKEND = "tests.bookings.test_erasure_provider_errors.RefusingSms"
    appointment = AppointmentFactory()
    sms = _failed_sms(appointment)
    client, _username = _operator_client(appointment.tenant)

    answer = client.post(reverse(PROBLEMS), {"resend_sms": sms.pk}, follow=True)

    assert "Die SMS ist erneut fehlgeschlagen" in _flash(answer)
    sms.refresh_from_db()
    assert (sms.status, sms.error_code) == (SmsStatus.FAILED, "21211")
    assert f'name="resend_sms" value="{sms.pk}"' in answer.content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_clicks_send_one_sms():
    appointment = AppointmentFactory()
    sms = _failed_sms(appointment)
    clients = [_operator_client(appointment.tenant)[0] for _ in range(2)]
    start = threading.Barrier(len(clients))
    flashes: list[str] = []
    errors: list[BaseException] = []

    def click(client: Client) -> None:
        try:
            start.wait()
            answer = client.post(reverse(PROBLEMS), {"resend_sms": sms.pk}, follow=True)
            # From the page, not response.context: the test client's template signal is
            # global, so two threads would see each other's contexts.
            page = answer.content.decode()
            flashes.extend(phrase for phrase in ANSWERS if f">{phrase}</li>" in page)
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(flashes) == sorted(ANSWERS)
    assert len(sent_messages) == 1
    assert AuditLog.objects.for_tenant(appointment.tenant).filter(action="sms.resent").count() == 1
