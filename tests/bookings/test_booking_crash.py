"""A booking whose process is SIGKILLed at each boundary of the booking saga (docs/contract.md,
"What a 201 means"): afterwards either nothing of it exists, or the appointment is confirmed,
its calendar copy synced and exactly one confirmation was handed to the SMS provider; the retry
with the same idempotency key answers 201 with the same confirmation number throughout.

The process runs the real path (orchestrator, saga, outbox, console SMS, in-memory calendar)
in a subprocess (tests/bookings/booking_crash_script.py) against the test database; recovery
(the beat task) and the outbox sweep then run here.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import pytest

from bookings import calendar
from bookings.enums import AppointmentStatus, SyncStatus
from bookings.models import Appointment, SmsMessage
from mcp_core import outbox, tasks
from mcp_core.models import AuditLog, OutboxMessage, OutboxStatus, SagaRun, SagaStatus
from tests.bookings.booking_crash_script import BOUNDARIES
from tests.bookings.test_booking_service import make_world
from tests.factories import ApiKeyFactory
from tests.mcp_core.test_saga import ROOT, _subprocess_env

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 1  # the killed process's outbox lease, so the test need not wait 5 minutes


def _next_monday_at_ten() -> str:
    today = dt.datetime.now(ZoneInfo("Europe/Berlin")).date()
    monday = today + dt.timedelta(days=7 + (7 - today.weekday()) % 7)
    return f"{monday.isoformat()}T10:00:00"


def _kill_during_booking(tenant_id: int, key_id: int, boundary: str, args: dict) -> None:
    code = (
        "import django; django.setup(); "
        "from tests.bookings.booking_crash_script import main; main()"
    )
    env = {
        **_subprocess_env(),
        "CALENDAR_BACKEND": "memory",
        "SMS_BACKEND": "console",
        "MCP_OUTBOX_LEASE": str(LEASE_SECONDS),
    }
    process = subprocess.run(  # noqa: S603 — our own interpreter and module
        [sys.executable, "-c", code, str(tenant_id), str(key_id), boundary, json.dumps(args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_a_booking_killed_at_any_boundary_is_either_absent_or_confirmed_once(
    boundary, client, settings
):
    settings.CALENDAR_BACKEND = "memory"
    settings.MCP_SAGA_STALE_AFTER = 0
    settings.MCP_OUTBOX_SWEEP_GRACE = 0
    calendar.reset_backends()
    world = make_world()
    tenant = world.tenant
    key, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")
    args = {
        "service_id": world.service.pk,
        "branch_id": world.branch.pk,
        "start_time": _next_monday_at_ten(),
        "staff_id": world.anna.pk,
        "customer_phone": "030 1234567",
        "customer_name": "Erika Mustermann",
        "idempotency_key": f"crash-{boundary}",
    }

    _kill_during_booking(tenant.pk, key.pk, boundary, args)

    killed = Appointment.objects.for_tenant(tenant).first()
    if boundary == "before_reserve_commit":
        # The reservation never committed: nothing of the booking exists.
        assert killed is None
        assert not SagaRun.objects.for_tenant(tenant).exists()
        assert not OutboxMessage.objects.for_tenant(tenant).exists()
        assert not SmsMessage.objects.for_tenant(tenant).exists()
    else:
        assert killed is not None
        assert killed.status == AppointmentStatus.CONFIRMED
        assert SagaRun.objects.for_tenant(tenant).get().status == SagaStatus.RUNNING

    # The client retries with the same key before recovery has run.
    retry = client.post(
        "/api/v2/mcp/bookings",
        json.dumps(args),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert retry.status_code == 201, retry.content
    if killed is not None:
        assert retry.json()["confirmation_number"] == killed.confirmation_number
        assert retry.json()["appointment"]["id"] == killed.pk

    time.sleep(LEASE_SECONDS + 0.2)  # the dead process's outbox leases run out
    recovered = tasks.recover_stale_sagas.delay().get()
    outbox.deliver_due()

    appointment = Appointment.objects.for_tenant(tenant).get()
    assert appointment.confirmation_number == retry.json()["confirmation_number"]
    assert (appointment.status, appointment.sync_status) == (
        AppointmentStatus.CONFIRMED,
        SyncStatus.SYNCED,
    )
    runs = SagaRun.objects.for_tenant(tenant)
    assert recovered == ([] if killed is None else [str(runs.get().pk)])
    assert [run.status for run in runs] == [SagaStatus.COMPLETED]
    assert sorted(OutboxMessage.objects.for_tenant(tenant).values_list("topic", "status")) == [
        ("calendar.sync", OutboxStatus.DELIVERED),
        ("notification.booking", OutboxStatus.DELIVERED),
    ]
    # One SMS record, handed to the provider once (a dead worker's `claimed` one taken over).
    sms = SmsMessage.objects.for_tenant(tenant)
    assert list(sms.values_list("appointment_id", "kind", "to", "status")) == [
        (appointment.pk, "confirmation", "+49301234567", "sent")
    ]
    assert sms.get().provider_sid.startswith("console-")
    assert (
        not AuditLog.objects.for_tenant(tenant)
        .filter(action="appointment.creation_undone")
        .exists()
    )
