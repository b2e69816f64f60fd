"""A real `celery -A askproai worker` process, with Redis as broker, delivers the outbox.

Needs PostgreSQL (the worker opens the test database from another process) and Redis (the
broker: REDIS_URL). The booking is made here while the Cal.com fake is down; its inline
attempt fails and schedules the retry through the broker; the worker picks it up and syncs
the appointment once the fake is back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings as django_settings

from askproai.celery import app
from bookings import calendar
from bookings.enums import SyncStatus
from bookings.models import Appointment
from mcp_core.models import OutboxMessage, OutboxStatus
from tests import serving
from tests.bookings.test_booking_service import book, make_world
from tests.integrations.conftest import connect_calcom

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


@contextmanager
def celery_worker(broker: str, extra_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "askproai.settings",
        "DATABASE_URL": serving.test_database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "CELERY_BROKER_URL": broker,
        **extra_env,
    }
    log = tempfile.TemporaryFile()  # noqa: SIM115 — closed below
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "askproai",
            "worker",
            "--pool=solo",
            "--loglevel=info",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=serving.ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
        print(output[-4000:])  # shown by pytest when the test fails


@pytest.fixture
def broker(settings) -> Iterator[str]:
    """Celery with a real broker (Redis) in this process, for the duration of the test."""
    url = settings.REDIS_URL
    previous = {
        "broker_url": app.conf.broker_url,
        "task_always_eager": app.conf.task_always_eager,
    }
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.update(broker_url=url, task_always_eager=False)
    _forget_broker_connections()
    app.control.purge()  # tasks left over from an earlier run are not ours
    yield url
    app.control.purge()
    app.conf.update(**previous)
    _forget_broker_connections()


def _forget_broker_connections() -> None:
    """Eager calls earlier in the run made Celery cache a connection and producer pool for the
    broker configured then (none: the amqp default); the next publish must use the new one.
    Celery has no public reset for these."""
    app._pool = None
    app.amqp._producer_pool = None


def test_a_celery_worker_delivers_the_outbox_message_once_calcom_is_back(
    fake_calcom, broker, settings
):
    settings.CALENDAR_BACKEND = "calcom"
    settings.CALCOM_API_KEY = ""
    settings.MCP_BOOKING_MAX_ADVANCE_DAYS = 3650  # the world books a fixed Monday in 2027
    settings.MCP_RETRY_BACKOFF_BASE = 2.0
    settings.MCP_RETRY_BACKOFF_MAX = 4.0
    calendar.reset_backends()
    world = make_world()
    connect_calcom(world, fake_calcom)
    fake_calcom.stop()

    data = book(world)

    assert data["appointment"]["sync_status"] == "pending"
    message = OutboxMessage.objects.all_tenants().get(topic="calendar.sync")
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    fake_calcom.start()
    worker_env = {
        "CALENDAR_BACKEND": "calcom",
        "MCP_RETRY_BACKOFF_BASE": "1",
        "MCP_RETRY_BACKOFF_MAX": "2",
    }
    with celery_worker(broker, worker_env) as worker:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message.refresh_from_db()
            if message.status != OutboxStatus.PENDING or worker.poll() is not None:
                break
            time.sleep(0.25)

    appointment = Appointment.objects.all_tenants().get()
    [booking] = fake_calcom.active_bookings()
    assert message.status == OutboxStatus.DELIVERED
    assert message.attempts >= 2  # the inline try here, then the worker's
    assert (appointment.sync_status, appointment.external_calendar_id) == (
        SyncStatus.SYNCED,
        booking["uid"],
    )
    assert booking["metadata"]["askproai_confirmation"] == appointment.confirmation_number
