"""The inbox "Probleme", the customer page with its history and GDPR actions, and the
technical records kept to superusers — through the admin's front door."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from bookings.enums import SmsKind, SmsStatus, SyncStatus
from bookings.models import Customer, SmsMessage
from mcp_core import outbox
from mcp_core.models import AuditLog, OutboxMessage, OutboxStatus
from routing.enums import CallOutcome
from tests.factories import (
    AppointmentFactory,
    CallLogFactory,
    CompanyFactory,
    CustomerFactory,
    OperatorProfileFactory,
)

pytestmark = pytest.mark.django_db


def _operator(client, tenant, *codenames_of_apps: str):
    profile = OperatorProfileFactory(tenant=tenant)
    profile.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=codenames_of_apps)
    )
    client.force_login(profile.user)
    return profile.user


def test_inbox_lists_each_kind_of_problem_of_the_tenant_only(client):
    appointment = AppointmentFactory(sync_status=SyncStatus.FAILED)
    tenant = appointment.tenant
    other = AppointmentFactory(sync_status=SyncStatus.FAILED)
    SmsMessage.objects.create(
        tenant=tenant,
        appointment=appointment,
        kind=SmsKind.CONFIRMATION,
        to="+4915112345678",
        body="Ihr Termin",
        provider="twilio",
        status=SmsStatus.UNDELIVERED,
        error_code="30003",
    )
    CallLogFactory(
        branch=appointment.branch,
        started_at=timezone.now() - dt.timedelta(hours=2),
        outcome=CallOutcome.NO_BOOKING,
        call_id="call_console_unbooked",
    )
    _operator(client, tenant, "bookings", "routing")

    page = client.get(reverse("admin:console_problems"))

    problems = page.context["problems"]
    assert problems.failed_syncs == [appointment]
    assert [sms.error_code for sms in problems.failed_sms] == ["30003"]
    assert [call.call_id for call in problems.calls_without_booking] == ["call_console_unbooked"]
    body = page.content.decode()
    assert "Nicht zugestellt" in body and "Keine Buchung" in body
    assert other.confirmation_number not in body


def test_sync_again_requeues_the_appointments_calendar_message(
    client, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[int] = []
    monkeypatch.setattr(
        outbox, "schedule", lambda message_id, countdown=0.0: sent.append(message_id)
    )
    appointment = AppointmentFactory(sync_status=SyncStatus.FAILED)
    with transaction.atomic():
        message = outbox.enqueue(
            tenant=appointment.tenant,
            topic="calendar.sync",
            payload={"appointment_id": appointment.pk, "actor": "test"},
        )
    OutboxMessage.objects.all_tenants().update(status=OutboxStatus.DEAD)
    user = _operator(client, appointment.tenant, "bookings")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:console_problems"), {"retry_sync": appointment.pk}, follow=True
        )

    assert "Erneut zur Zustellung eingereiht." in response.content.decode()
    assert OutboxMessage.objects.all_tenants().get(pk=message.pk).status == OutboxStatus.PENDING
    assert sent == [message.pk]
    audit = AuditLog.objects.for_tenant(appointment.tenant).get(action="outbox.retried")
    assert audit.actor == f"admin:{user.get_username()}"


@pytest.mark.parametrize(
    "model",
    [
        "mcp_core_sagarun",
        "mcp_core_outboxmessage",
        "integrations_webhookevent",
        "integrations_calcombusyblock",
    ],
)
def test_technical_records_are_for_superusers_only(client, admin_client, model):
    tenant = CompanyFactory()
    _operator(client, tenant, "mcp_core", "integrations")
    url = reverse(f"admin:{model}_changelist")
    assert client.get(url).status_code == 403
    assert model.split("_", 1)[1] not in client.get(reverse("admin:console_areas")).content.decode()
    assert admin_client.get(url).status_code == 200


def test_customer_page_shows_appointments_calls_with_summary_and_sms(client):
    appointment = AppointmentFactory(
        start_time=dt.datetime(2027, 7, 5, 8, 0, tzinfo=dt.UTC),
        end_time=dt.datetime(2027, 7, 5, 8, 30, tzinfo=dt.UTC),
    )
    customer = appointment.customer
    CallLogFactory(
        branch=appointment.branch,
        customer=customer,
        started_at=dt.datetime(2027, 7, 1, 15, 5, tzinfo=dt.UTC),
        outcome=CallOutcome.BOOKED,
        analysis={"call_summary": "Die Kundin buchte einen Haarschnitt.", "user_sentiment": "x"},
    )
    SmsMessage.objects.create(
        tenant=customer.tenant,
        appointment=appointment,
        kind=SmsKind.CONFIRMATION,
        to=customer.phone,
        body="Ihr Termin",
        provider="console",
        status=SmsStatus.DELIVERED,
    )
    _operator(client, customer.tenant, "bookings")

    page = client.get(reverse("admin:bookings_customer_change", args=[customer.pk]))
    body = page.content.decode()

    assert "05.07.2027 10:00" in body  # summer: UTC+2, the branch's time
    assert reverse("admin:bookings_appointment_change", args=[appointment.pk]) in body
    assert "Die Kundin buchte einen Haarschnitt." in body and "user_sentiment" not in body
    assert "Buchungsbestätigung" in body and "Zugestellt" in body


def test_gdpr_actions_only_for_those_allowed_and_through_the_services(client):
    customer = CustomerFactory(name="Erika Muster", email="erika@example.com")
    user = _operator(client, customer.tenant, "bookings")
    url = reverse("admin:bookings_customer_changelist")
    chosen = {"_selected_action": [customer.pk]}

    exported = client.post(url, chosen | {"action": "export_data"})
    asked = client.post(url, chosen | {"action": "erase_data"})
    assert customer.__class__.objects.for_tenant(customer.tenant).get().name == "Erika Muster"
    erased = client.post(url, chosen | {"action": "erase_data", "confirm": "1"}, follow=True)

    assert json.loads(exported.content)[0]["customer"]["name"] == "Erika Muster"
    assert asked.status_code == 200 and "nicht rückgängig" in asked.content.decode()
    assert "1 Kunde gelöscht." in erased.content.decode()
    after = Customer.objects.for_tenant(customer.tenant).get(pk=customer.pk)
    assert (after.name, after.phone) == ("", f"erased:{customer.pk}")
    actions = set(AuditLog.objects.for_tenant(customer.tenant).values_list("action", "actor"))
    actor = f"admin:{user.get_username()}"
    assert {("customer.data_exported", actor), ("customer.erased", actor)} <= actions

    user.user_permissions.remove(Permission.objects.get(codename="delete_customer"))
    refused = client.post(url, chosen | {"action": "export_data"})
    assert refused.status_code in (200, 302)
    assert "customer.data_exported" not in refused.content.decode()
    assert "export_data" not in client.get(url).content.decode()
