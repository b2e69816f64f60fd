"""MCP_TIMEOUT bounds the work of a call (docs/contract.md, "Time budget"): an operation that
runs past it stops and answers SERVICE_UNAVAILABLE ("timeout") with nothing written, unless it
has passed the booking's point of no return, after which it finishes and answers 201."""

from __future__ import annotations

import json
import time

import pytest
from django.db import connection

from bookings import notifications
from bookings.models import Appointment, Customer, SmsMessage
from bookings.services import create, reserve
from common import deadline
from common.errors import ServiceUnavailable
from integrations.twilio.client import twilio_client
from mcp_core.models import AuditLog, OutboxMessage, SagaRun
from tests.bookings.test_booking_crash import _next_monday_at_ten
from tests.bookings.test_booking_service import World, make_world
from tests.factories import ApiKeyFactory, CustomerFactory

BUDGET = 1  # seconds


@pytest.fixture
def world(settings) -> World:
    settings.MCP_TIMEOUT = BUDGET
    notifications.sent_messages.clear()
    return make_world()


def _post_booking(client, world: World):
    _, token = ApiKeyFactory.create_with_plaintext(tenant=world.tenant, role="owner")
    args = {
        "service_id": world.service.pk,
        "branch_id": world.branch.pk,
        "start_time": _next_monday_at_ten(),
        "staff_id": world.anna.pk,
        "customer_phone": "030 1234567",
        "customer_name": "Erika Mustermann",
    }
    started = time.monotonic()
    response = client.post(
        "/api/v2/mcp/bookings",
        json.dumps(args),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    return response, time.monotonic() - started


def _assert_timed_out(response, step: str) -> None:
    assert response.status_code == 503
    error = response.json()["error"]
    assert (error["code"], error["type"]) == (1005, "SERVICE_UNAVAILABLE")
    assert error["message"] == f"The operation hit its time budget (timeout) during {step}."
    assert error["details"] == {"timeout_seconds": BUDGET, "step": step}
    assert error["correlation_id"] == response.headers["X-Correlation-ID"]
    assert error["timestamp"]


def _nothing_of_the_booking(world: World) -> None:
    tenant = world.tenant
    assert not Appointment.objects.for_tenant(tenant).exists()
    assert not SagaRun.objects.for_tenant(tenant).exists()
    assert not OutboxMessage.objects.for_tenant(tenant).exists()
    assert not SmsMessage.objects.for_tenant(tenant).exists()
    assert notifications.sent_messages == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_statement_running_past_the_budget_is_cancelled_and_nothing_is_written(
    client, world, monkeypatch
):
    CustomerFactory(tenant=world.tenant, phone="+49301234567", name="Erika Mustermann")
    audit_rows = AuditLog.objects.for_tenant(world.tenant).count()
    original = reserve.overlap_at_lock

    def slow_overlap_check(*args, **kwargs):
        # A statement that would run 10 s, inside the reserving transaction.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(10)")
        return original(*args, **kwargs)

    monkeypatch.setattr(reserve, "overlap_at_lock", slow_overlap_check)

    response, elapsed = _post_booking(client, world)

    _assert_timed_out(response, "a database statement")
    assert elapsed < 5  # not the 10 s the statement asked for (the rest is the request's own)
    _nothing_of_the_booking(world)
    assert Customer.objects.for_tenant(world.tenant).count() == 1
    assert AuditLog.objects.for_tenant(world.tenant).count() == audit_rows
    # The connection serves the next call with the server's default again.
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("0",)


@pytest.mark.django_db(transaction=True)
def test_no_statement_starts_once_the_budget_is_spent_and_nothing_is_written(
    client, world, monkeypatch
):
    original = create.check_slot

    def slow_check(*args, **kwargs):
        time.sleep(BUDGET + 0.1)  # a slow integration, say
        return original(*args, **kwargs)

    monkeypatch.setattr(create, "check_slot", slow_check)

    response, _ = _post_booking(client, world)

    _assert_timed_out(response, "a database statement")
    _nothing_of_the_booking(world)
    assert not Customer.objects.for_tenant(world.tenant).exists()
    assert not AuditLog.objects.for_tenant(world.tenant).exists()


@pytest.mark.django_db(transaction=True)
def test_past_the_point_of_no_return_the_booking_finishes_beyond_the_budget(
    client, world, monkeypatch
):
    original = notifications.ConsoleSms.send

    def slow_send(self, to, body):
        time.sleep(BUDGET + 0.1)  # the SMS provider takes its time
        return original(self, to, body)

    monkeypatch.setattr(notifications.ConsoleSms, "send", slow_send)

    response, elapsed = _post_booking(client, world)

    assert response.status_code == 201, response.content
    appointment = Appointment.objects.for_tenant(world.tenant).get()
    assert response.json()["confirmation_number"] == appointment.confirmation_number
    assert response.json()["notifications_sent"] == ["sms"]
    assert elapsed > BUDGET
    assert [m.to for m in notifications.sent_messages] == ["+49301234567"]


def test_integration_time_outs_are_capped_by_what_is_left_of_the_budget(settings):
    settings.INTEGRATION_HTTP_TIMEOUT = 2.5

    assert twilio_client().http_client.timeout == 2.5  # outside a call: the setting
    with deadline.bounded(time.monotonic() + 0.5, 1):
        assert 0.4 < twilio_client().http_client.timeout <= 0.5
    with deadline.bounded(time.monotonic() - 0.1, 1), pytest.raises(ServiceUnavailable) as spent:
        twilio_client()
    assert spent.value.message == (
        "The operation hit its time budget (timeout) during an integration call."
    )
