"""Celery on RabbitMQ, the production broker: a worker SIGKILLed in the middle of a delivery
loses nothing. The task is acknowledged only after it ran (acks_late), so RabbitMQ hands it to
the next worker, which delivers the outbox message."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.utils import timezone

from askproai.celery import app
from bookings import calendar
from bookings.enums import SyncStatus
from bookings.models import Appointment
from mcp_core.models import OutboxMessage, OutboxStatus
from tests.bookings.test_booking_service import book, make_world
from tests.integrations.conftest import connect_calcom
from tests.integrations.test_celery_worker import _forget_broker_connections, celery_worker

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.rabbitmq,
    pytest.mark.django_db(transaction=True),
]

WORKER_ENV = {
    "CALENDAR_BACKEND": "calcom",
    "INTEGRATION_HTTP_TIMEOUT": "7",
    # The dead worker's claim on the message runs out after this; then another may take it.
    "MCP_OUTBOX_LEASE": "8",
    "MCP_RETRY_BACKOFF_BASE": "1",
    "MCP_RETRY_BACKOFF_MAX": "2",
}


@pytest.fixture
def rabbitmq(settings):
    url = os.environ["RABBITMQ_URL"]
    previous = {"broker_url": app.conf.broker_url, "task_always_eager": app.conf.task_always_eager}
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.update(broker_url=url, task_always_eager=False)
    _forget_broker_connections()
    app.control.purge()
    yield url
    app.control.purge()
    app.conf.update(**previous)
    _forget_broker_connections()


def _fresh(message: OutboxMessage) -> OutboxMessage:
    message.refresh_from_db()
    return message


def _wait(condition, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_a_worker_killed_mid_delivery_loses_nothing(fake_calcom, rabbitmq, settings):
    settings.CALENDAR_BACKEND = "calcom"
    settings.MCP_BOOKING_MAX_ADVANCE_DAYS = 3650  # the world books a fixed Monday in 2027
    settings.MCP_RETRY_BACKOFF_BASE = 1.0
    settings.MCP_RETRY_BACKOFF_MAX = 2.0
    calendar.reset_backends()
    world = make_world()
    connect_calcom(world, fake_calcom)
    fake_calcom.stop()
    book(world)  # the inline attempt fails; the retry task goes to RabbitMQ
    message = OutboxMessage.objects.all_tenants().get(topic="calendar.sync")
    fake_calcom.delay = 6.0
    fake_calcom.start()

    with celery_worker(rabbitmq, WORKER_ENV) as doomed:
        in_flight = _wait(lambda: bool(fake_calcom.calls("POST")))
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
    # The slow answer to the dead worker must not book either: it is an error once it comes.
    fake_calcom.fail_with = 503
    time.sleep(fake_calcom.delay + 0.5)
    fake_calcom.fail_with = None
    fake_calcom.delay = 0.0
    assert in_flight
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    # The redelivered task finds the dead worker's lease; it is taken over once that runs out.
    assert _wait(lambda: _fresh(message).next_attempt_at <= timezone.now(), timeout=30)

    with celery_worker(rabbitmq, WORKER_ENV):
        delivered = _wait(lambda: _fresh(message).status == OutboxStatus.DELIVERED)

    appointment = Appointment.objects.all_tenants().get()
    assert delivered
    [booking] = fake_calcom.active_bookings()
    assert (appointment.sync_status, appointment.external_calendar_id) == (
        SyncStatus.SYNCED,
        booking["uid"],
    )
