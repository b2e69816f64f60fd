"""SMS reminders queued by Celery beat on the outbox: one per appointment due, however often
beat runs, a message is delivered or workers race; none for cancelled appointments; local time
across DST; postponed with back-off while the breaker is open."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from bookings import notifications
from bookings.enums import AppointmentStatus
from bookings.models import Appointment, SmsMessage
from bookings.notifications import reminders
from bookings.notifications.texts import sms_template_set
from bookings.tasks import send_due_reminders
from mcp_core import outbox
from mcp_core.breakers import call_with_breaker, reset_breakers
from mcp_core.models import OutboxMessage
from mcp_core.outbox import deliver_due_outbox_messages
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


@pytest.fixture
def run_beat(django_capture_on_commit_callbacks):
    """Beat at `at`; the outbox deliveries (eager Celery) run as each enqueue commits."""

    def run(at: dt.datetime = BEAT_AT, *, deliver: bool = True) -> int:
        with (
            time_machine.travel(at, tick=False),
            django_capture_on_commit_callbacks(execute=deliver),
        ):
            queued = send_due_reminders.apply().get()
        return len(queued)

    return run


@pytest.mark.django_db
def test_beat_reminds_each_due_appointment_once_in_local_time_across_dst(run_beat) -> None:
    appointment = booked(DUE_START)
    assert run_beat() == 1
    assert run_beat() == 0  # beat running again, even later, sends nothing new
    assert run_beat(BEAT_AT + dt.timedelta(hours=5)) == 0

    [message] = SmsMessage.objects.all_tenants()
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
def test_only_due_active_appointments_of_active_tenants_are_reminded(run_beat) -> None:
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
    assert list(SmsMessage.objects.all_tenants().values_list("appointment_id", flat=True)) == [
        due.pk
    ]


@pytest.mark.django_db
def test_a_tenants_reminder_template_is_used(run_beat) -> None:
    appointment = booked(DUE_START)
    sms_template_set(
        tenant=appointment.tenant,
        actor="admin:anna",
        kind="reminder",
        body="Hallo {kunde}, morgen {uhrzeit} Uhr ({datum}) bei {mitarbeiter}.",
    )
    run_beat()
    assert SmsMessage.objects.all_tenants().get().body == (
        f"Hallo {appointment.customer.name}, morgen 10:00 Uhr (29.03.2026) "
        f"bei {appointment.staff.name}."
    )


@pytest.mark.django_db
def test_while_the_breaker_is_open_the_outbox_retries_the_reminder(run_beat, settings) -> None:
    settings.MCP_CIRCUIT_FAILURE_THRESHOLD = 1
    booked(DUE_START)

    def broken() -> None:
        raise ConnectionError("provider down")

    with pytest.raises(ConnectionError):
        call_with_breaker("console", broken)
    assert run_beat() == 1
    assert not SmsMessage.objects.all_tenants().exists()  # the claim was released: nothing was sent
    [queued] = OutboxMessage.objects.all_tenants().filter(topic=reminders.REMINDER_TOPIC)
    assert (queued.status, queued.attempts) == ("pending", 1)
    assert "ReminderPostponed" in queued.last_error

    reset_breakers()
    with time_machine.travel(BEAT_AT + dt.timedelta(minutes=5), tick=False):
        assert deliver_due_outbox_messages.apply().get() == [queued.pk]
    queued.refresh_from_db()
    assert queued.status == "delivered"
    assert SmsMessage.objects.all_tenants().get().status == "sent"
    assert run_beat(BEAT_AT + dt.timedelta(minutes=10)) == 0


@pytest.mark.django_db
def test_beat_running_twice_before_delivery_queues_one_message(run_beat) -> None:
    appointment = booked(DUE_START)
    assert run_beat(deliver=False) == 1
    assert run_beat(BEAT_AT + dt.timedelta(minutes=5), deliver=False) == 1
    [queued] = OutboxMessage.objects.all_tenants().filter(topic=reminders.REMINDER_TOPIC)
    assert queued.payload == {"appointment_id": appointment.pk}
    with time_machine.travel(BEAT_AT + dt.timedelta(minutes=6), tick=False):
        outbox.deliver(queued.pk)
        # A repeated delivery (a worker crashed after sending) sends nothing more.
        assert reminders.deliver_reminder(queued) == {
            "appointment_id": appointment.pk,
            "sent": False,
            "reason": "not_due_or_claimed",
        }
    assert SmsMessage.objects.all_tenants().filter(appointment=appointment).count() == 1
    assert len(notifications.sent_messages) == 1


@pytest.mark.django_db
def test_a_reminder_no_longer_due_at_delivery_is_dropped(run_beat) -> None:
    appointment = booked(DUE_START)
    assert run_beat(deliver=False) == 1
    Appointment.objects.all_tenants().filter(pk=appointment.pk).update(
        status=AppointmentStatus.CANCELLED
    )
    [queued] = OutboxMessage.objects.all_tenants().filter(topic=reminders.REMINDER_TOPIC)
    with time_machine.travel(BEAT_AT + dt.timedelta(minutes=1), tick=False):
        delivery = outbox.deliver(queued.pk)
    assert delivery is not None and delivery.delivered
    assert not SmsMessage.objects.all_tenants().exists()


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
    assert SmsMessage.objects.all_tenants().filter(appointment=appointment).count() == 1
    assert len(notifications.sent_messages) == 1
