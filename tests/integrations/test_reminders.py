"""SMS reminders sent by Celery beat: one per appointment due, however often beat runs or
however many workers race; none for cancelled appointments; local time across DST."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from bookings.enums import AppointmentStatus
from bookings.models import Appointment
from integrations import notifications, reminders
from integrations.messages import sms_template_set
from integrations.models import SmsMessage
from integrations.tasks import send_due_reminders
from mcp_core.breakers import call_with_breaker, reset_breakers
from tests.factories import AppointmentFactory

BERLIN = ZoneInfo("Europe/Berlin")
BOOKED_AT = dt.datetime(2026, 3, 20, 12, 0, tzinfo=BERLIN)
# Saturday before the spring change (Sunday 29 March 2026, 02:00 → 03:00): still +01:00.
BEAT_AT = dt.datetime(2026, 3, 28, 11, 0, tzinfo=BERLIN)
# Sunday 10:00 local is +02:00: 22 hours after BEAT_AT, inside the 24-hour window.
DUE_START = dt.datetime(2026, 3, 29, 10, 0, tzinfo=BERLIN)


@pytest.fixture(autouse=True)
def _console_outbox() -> Iterator[None]:
    notifications.sent_messages.clear()
    yield
    notifications.sent_messages.clear()


def booked(start: dt.datetime, at: dt.datetime = BOOKED_AT, **fields) -> Appointment:
    with time_machine.travel(at, tick=False):
        return AppointmentFactory(start_time=start, **fields)


def run_beat(at: dt.datetime = BEAT_AT) -> int:
    with time_machine.travel(at, tick=False):
        return send_due_reminders.apply().get()


@pytest.mark.django_db
def test_beat_reminds_each_due_appointment_once_in_local_time_across_dst() -> None:
    appointment = booked(DUE_START)
    assert run_beat() == 1
    assert run_beat() == 0  # beat running again, even later, sends nothing new
    assert run_beat(BEAT_AT + dt.timedelta(hours=5)) == 0

    [message] = SmsMessage.objects.all()
    assert (message.kind, message.appointment_id, message.to, message.status) == (
        "reminder",
        appointment.pk,
        appointment.customer.phone,
        "sent",
    )
    # 10:00 local (08:00 UTC), though the reminder went out while Berlin was still at +01:00.
    assert "am So. 29.03.2026 um 10:00 Uhr bei" in message.body
    assert [sent.body for sent in notifications.sent_messages] == [message.body]


@pytest.mark.django_db
def test_only_due_active_appointments_of_active_tenants_are_reminded() -> None:
    due = booked(DUE_START)
    booked(DUE_START + dt.timedelta(hours=3), staff=due.staff)  # starts 25 h after beat
    booked(DUE_START, status=AppointmentStatus.CANCELLED)
    booked(BEAT_AT - dt.timedelta(hours=1))  # already begun
    erased = booked(DUE_START)
    erased.customer.erased_at = BOOKED_AT
    erased.customer.save()
    inactive = booked(DUE_START)
    inactive.tenant.is_active = False
    inactive.tenant.save()
    # Booked an hour before its start: the confirmation has just gone out.
    booked(BEAT_AT + dt.timedelta(hours=1), at=BEAT_AT)

    assert run_beat() == 1
    assert list(SmsMessage.objects.values_list("appointment_id", flat=True)) == [due.pk]


@pytest.mark.django_db
def test_a_tenants_reminder_template_is_used() -> None:
    appointment = booked(DUE_START)
    sms_template_set(
        tenant=appointment.tenant,
        actor="admin:anna",
        kind="reminder",
        body="Hallo {kunde}, morgen {uhrzeit} Uhr ({datum}) bei {mitarbeiter}.",
    )
    run_beat()
    assert SmsMessage.objects.get().body == (
        f"Hallo {appointment.customer.name}, morgen 10:00 Uhr (29.03.2026) "
        f"bei {appointment.staff.name}."
    )


@pytest.mark.django_db
def test_while_the_breaker_is_open_the_reminder_waits_for_the_next_run(settings) -> None:
    settings.MCP_CIRCUIT_FAILURE_THRESHOLD = 1
    booked(DUE_START)

    def broken() -> None:
        raise ConnectionError("provider down")

    with pytest.raises(ConnectionError):
        call_with_breaker("console", broken)
    assert run_beat() == 0
    assert not SmsMessage.objects.exists()  # the claim was released: nothing was sent

    reset_breakers()
    assert run_beat() == 1
    assert SmsMessage.objects.get().status == "sent"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_send_one_reminder() -> None:
    appointment = booked(DUE_START)
    barrier = threading.Barrier(4)
    results: list[object] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(reminders.reminder_send(appointment_id=appointment.pk, now=BEAT_AT))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([result for result in results if result is not None]) == 1
    assert SmsMessage.objects.filter(appointment=appointment).count() == 1
    assert len(notifications.sent_messages) == 1
