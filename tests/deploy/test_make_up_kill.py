"""Chaos under `make up`: a gunicorn worker SIGKILLed mid-saga and a Celery pool process
SIGKILLed mid-delivery, each found waiting on Cal.com black-holed by the fault proxy. Only
children their parent replaces are killed (honcho ends `make up` when one of its own processes
ends). Nothing is lost, nothing done twice (docs/operations.md, "Chaos runs")."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from bookings.enums import AppointmentStatus, SyncStatus
from bookings.models import Appointment, SmsMessage
from integrations.models import CalcomAccount
from mcp_core.models import OutboxMessage, OutboxStatus, SagaRun, SagaStatus
from tests import serving
from tests.bookings.test_booking_service import MONDAY, booking_args
from tests.deploy.fault_proxy import FaultProxy
from tests.deploy.processes import connection_owner, forked_workers
from tests.deploy.topology import Topology, make_up
from tests.factories import ApiKeyFactory
from tests.integrations.conftest import CalcomWorld

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.rabbitmq,
    pytest.mark.django_db(transaction=True),
]


def _env(**overrides: str) -> dict[str, str]:
    return {
        "PY": sys.executable,
        "DATABASE_URL": serving.test_database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "CELERY_BROKER_URL": os.environ["RABBITMQ_URL"],
        "MCP_BOOKING_MAX_ADVANCE_DAYS": "3650",  # the world books a fixed Monday in 2027
        "CALENDAR_BACKEND": "calcom",
        # Longer than any hold below: the held call waits for its SIGKILL, not its time-out.
        "INTEGRATION_HTTP_TIMEOUT": "30",
        "MCP_RETRY_BACKOFF_BASE": "1",
        "MCP_RETRY_BACKOFF_MAX": "2",
        **overrides,
    }


def _wait(condition: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    return None


def _held_by(proxy: FaultProxy, topology: Topology, module: str) -> int:
    """The forked worker of `module` (gunicorn, celery) waiting on the proxy's held
    connection."""
    [port] = _wait(proxy.held_client_ports, timeout=30)
    owner = connection_owner(port, forked_workers(topology.process.pid, module))
    assert owner is not None, f"no {module} worker holds 127.0.0.1:{port}"
    return owner


def _respawned(topology: Topology, module: str, dead: int, count: int) -> list[int]:
    def replaced() -> list[int]:
        workers = forked_workers(topology.process.pid, module)
        return workers if len(workers) == count and dead not in workers else []

    return list(_wait(replaced, timeout=30) or [])


def _overlapping(appointments: list[Appointment]) -> list[tuple[int, int]]:
    return [
        (first.pk, second.pk)
        for first in appointments
        for second in appointments
        if first.pk < second.pk
        and first.staff_id == second.staff_id
        and first.occupied_start < second.occupied_end
        and second.occupied_start < first.occupied_end
    ]


def _book_in_background(
    base: str, token: str, args: dict[str, Any]
) -> tuple[threading.Thread, dict[str, Any]]:
    """A REST booking on its own thread, whose worker the test is about to kill: the outcome
    dict gets its `answer`, or the `error` its client saw."""
    outcome: dict[str, Any] = {}

    def book() -> None:
        try:
            outcome["answer"] = serving.api_request(base, "/api/v2/mcp/bookings", token, args)
        except OSError as exc:
            outcome["error"] = exc

    booking = threading.Thread(target=book)
    booking.start()
    return booking, outcome


def _calcom_calls(fake: Any, pattern: str) -> int:
    return sum(
        1 for call in fake.requests if call.method == "POST" and re.fullmatch(pattern, call.path)
    )


def test_a_web_worker_killed_mid_saga_leaves_the_booking_confirmed_once(
    calcom: CalcomWorld, tmp_path: Path
):
    world, fake = calcom.world, calcom.fake
    tenant = world.tenant
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")
    args = booking_args(world, idempotency_key="upkill-web")
    # Beat looks for stale sagas and due messages every 2 s; a run silent for 5 s is stale, a
    # message claimed 5 s ago is free to take over.
    env = _env(
        MCP_SAGA_STALE_AFTER="5",
        MCP_SAGA_RECOVERY_INTERVAL="2",
        MCP_OUTBOX_SWEEP_INTERVAL="2",
        MCP_OUTBOX_SWEEP_GRACE="0",
        MCP_OUTBOX_LEASE="5",
    )
    with FaultProxy(fake.port) as proxy, make_up(env, tmp_path) as topology:
        CalcomAccount.objects.all_tenants().filter(pk=calcom.account.pk).update(api_url=proxy.url)
        proxy.mode = "hang"
        booking, killed = _book_in_background(topology.base, token, args)
        # The saga's calendar step waits for Cal.com: the reserve step has committed.
        doomed = _held_by(proxy, topology, "gunicorn")
        committed = Appointment.objects.for_tenant(tenant).filter(idempotency_key="upkill-web")
        committed_before_the_kill = committed.exists()
        os.kill(doomed, signal.SIGKILL)
        booking.join(timeout=30)
        proxy.mode = "pass"

        # Before recovery: the slot is taken, and the same key finds the booking.
        rival_status, rival = serving.api_request(
            topology.base,
            "/api/v2/mcp/bookings",
            token,
            booking_args(world, customer_phone="030 7654321", idempotency_key="upkill-rival"),
        )
        retry_status, retried = serving.api_request(
            topology.base, "/api/v2/mcp/bookings", token, args
        )
        killed_run = SagaRun.objects.for_tenant(tenant).get()

        def settled() -> bool:
            killed_run.refresh_from_db()
            pending = OutboxMessage.objects.for_tenant(tenant).exclude(
                status=OutboxStatus.DELIVERED
            )
            return killed_run.status == SagaStatus.COMPLETED and not pending.exists()

        recovered = _wait(settled)
        web_workers = _respawned(topology, "gunicorn", doomed, count=2)
        later_status, later = serving.api_request(
            topology.base,
            "/api/v2/mcp/bookings",
            token,
            booking_args(world, start_time=f"{MONDAY}T11:00:00", idempotency_key="upkill-later"),
        )
        honcho_still_running = topology.process.poll() is None
        topology.stop()
        output = topology.output()

    # The killed request got no answer; its booking stands, found again by its key.
    assert committed_before_the_kill
    assert "answer" not in killed
    assert isinstance(killed["error"], OSError)
    assert f"Worker (pid:{doomed}) was sent SIGKILL!" in output
    assert (rival_status, rival["error"]["type"]) == (409, "CONFLICT")
    appointment = Appointment.objects.for_tenant(tenant).get(idempotency_key="upkill-web")
    assert retry_status == 201, retried
    assert retried["confirmation_number"] == appointment.confirmation_number
    assert retried["appointment"]["id"] == appointment.pk
    # Beat's recovery rolled the run forward (one claim); beat's sweep or the roll-forward
    # delivered each message once.
    assert recovered
    assert killed_run.attempts == 2
    assert (appointment.status, appointment.sync_status) == (
        AppointmentStatus.CONFIRMED,
        SyncStatus.SYNCED,
    )
    # The master replaced its worker; honcho kept every process; later bookings go through.
    assert len(web_workers) == 2
    assert honcho_still_running
    assert later_status == 201, later
    assert later["appointment"]["sync_status"] == SyncStatus.SYNCED
    appointments = list(Appointment.objects.for_tenant(tenant).order_by("start_time"))
    assert len(appointments) == 2
    assert not _overlapping(appointments)
    assert [run.status for run in SagaRun.objects.for_tenant(tenant)] == [SagaStatus.COMPLETED] * 2
    assert sorted(OutboxMessage.objects.for_tenant(tenant).values_list("topic", "status")) == [
        ("calendar.sync", OutboxStatus.DELIVERED),
        ("calendar.sync", OutboxStatus.DELIVERED),
        ("notification.booking", OutboxStatus.DELIVERED),
        ("notification.booking", OutboxStatus.DELIVERED),
    ]
    # One Cal.com booking and one confirmation SMS per appointment: none sent twice.
    assert _calcom_calls(fake, r"/v2/bookings") == 2
    assert sorted(booking["uid"] for booking in fake.active_bookings()) == sorted(
        row.external_calendar_id for row in appointments
    )
    sms = SmsMessage.objects.for_tenant(tenant)
    assert sorted(sms.values_list("appointment_id", "kind", "status")) == [
        (row.pk, "confirmation", "sent") for row in appointments
    ]


def test_a_web_worker_killed_inside_the_reserve_step_leaves_nothing_and_the_retry_books(
    calcom: CalcomWorld, tmp_path: Path
):
    world, fake = calcom.world, calcom.fake
    tenant = world.tenant
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")
    args = booking_args(world, idempotency_key="upkill-reserve")
    outbox_table = OutboxMessage._meta.db_table
    with make_up(_env(), tmp_path) as topology:
        # SHARE mode: the outbox can be read, not written. The reserve step's transaction
        # waits at its outbox insert, its appointment inserted, nothing committed.
        with psycopg.connect(serving.test_database_url()) as holder:
            holder.execute(f'LOCK TABLE "{outbox_table}" IN SHARE MODE')
            booking, killed = _book_in_background(topology.base, token, args)

            def waiting_backend() -> tuple[int, int] | None:
                holder.execute("SELECT pg_stat_clear_snapshot()")  # read afresh each time
                row = holder.execute(
                    "SELECT pid, client_port FROM pg_stat_activity WHERE datname = "
                    "current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                ).fetchone()
                return (int(row[0]), int(row[1])) if row else None

            backend, port = _wait(waiting_backend, timeout=30)
            doomed = connection_owner(port, forked_workers(topology.process.pid, "gunicorn"))
            assert doomed is not None
            os.kill(doomed, signal.SIGKILL)
            booking.join(timeout=30)
            holder.rollback()  # the lock goes; the orphaned backend finds its client gone

            def backend_gone() -> bool:
                row = holder.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [backend]
                ).fetchone()
                holder.rollback()
                return row is not None and row[0] == 0

            orphan_ended = _wait(backend_gone, timeout=30)
        left_behind = (
            Appointment.objects.for_tenant(tenant).count(),
            SagaRun.objects.for_tenant(tenant).count(),
            OutboxMessage.objects.for_tenant(tenant).count(),
        )
        retry_status, retried = serving.api_request(
            topology.base, "/api/v2/mcp/bookings", token, args
        )
        web_workers = _respawned(topology, "gunicorn", doomed, count=2)
        honcho_still_running = topology.process.poll() is None

    assert "answer" not in killed
    assert isinstance(killed["error"], OSError)
    assert orphan_ended
    assert left_behind == (0, 0, 0)
    # Nothing of the killed call committed: the retry books, once, synced and confirmed.
    assert retry_status == 201, retried
    assert retried["appointment"]["sync_status"] == SyncStatus.SYNCED
    appointment = Appointment.objects.for_tenant(tenant).get()
    assert retried["confirmation_number"] == appointment.confirmation_number
    assert len(web_workers) == 2
    assert honcho_still_running
    assert [run.status for run in SagaRun.objects.for_tenant(tenant)] == [SagaStatus.COMPLETED]
    assert set(OutboxMessage.objects.for_tenant(tenant).values_list("status", flat=True)) == {
        OutboxStatus.DELIVERED
    }
    assert [booking["uid"] for booking in fake.active_bookings()] == [
        appointment.external_calendar_id
    ]
    assert list(SmsMessage.objects.for_tenant(tenant).values_list("kind", "status")) == [
        ("confirmation", "sent")
    ]


def test_a_celery_pool_process_killed_mid_task_is_redelivered_and_delivers_once(
    calcom: CalcomWorld, tmp_path: Path
):
    world, fake = calcom.world, calcom.fake
    tenant = world.tenant
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")
    # The sweep never runs during the test: only the redelivered task can deliver the message.
    env = _env(MCP_OUTBOX_LEASE="2", MCP_OUTBOX_SWEEP_INTERVAL="3600")
    with FaultProxy(fake.port) as proxy, make_up(env, tmp_path) as topology:
        CalcomAccount.objects.all_tenants().filter(pk=calcom.account.pk).update(api_url=proxy.url)
        status, booked = serving.api_request(
            topology.base, "/api/v2/mcp/bookings", token, booking_args(world)
        )
        assert (status, booked["appointment"]["sync_status"]) == (201, SyncStatus.SYNCED)
        appointment_id = booked["appointment"]["id"]

        # The cancellation's calendar sync goes to the worker as a task, and hangs there.
        proxy.mode = "hang"
        status, _ = serving.api_request(
            topology.base,
            "/api/v2/mcp/operations/booking.cancelBooking",
            token,
            {"appointment_id": appointment_id, "reason": "Test"},
        )
        assert status == 200
        doomed = _held_by(proxy, topology, "celery")
        message = (
            OutboxMessage.objects.for_tenant(tenant).filter(topic="calendar.sync").latest("pk")
        )
        # The redelivered task may take the message over once the dead attempt's lease is out.
        assert _wait(
            lambda: (
                OutboxMessage.objects.for_tenant(tenant)
                .filter(
                    pk=message.pk, next_attempt_at__lte=timezone.now() - dt.timedelta(seconds=1)
                )
                .exists()
            ),
            timeout=30,
        )
        os.kill(doomed, signal.SIGKILL)
        proxy.mode = "pass"

        def delivered() -> bool:
            message.refresh_from_db()
            return message.status == OutboxStatus.DELIVERED

        redelivered = _wait(delivered)
        pool = _respawned(topology, "celery", doomed, count=1)
        notified = _wait(
            lambda: SmsMessage.objects.for_tenant(tenant).filter(kind="cancellation").exists()
        )
        honcho_still_running = topology.process.poll() is None
        topology.stop()
        output = topology.output()

    assert redelivered
    assert message.attempts == 2  # the killed attempt and the redelivered one
    assert len(pool) == 1
    assert honcho_still_running
    assert f"pid:{doomed} exited with 'signal 9 (SIGKILL)'" in output
    # The killed task's message came back from RabbitMQ: the same task id received twice.
    received = re.findall(r"Task [\w.]+deliver_outbox_message\[([-\w]+)\] received", output)
    assert any(received.count(task_id) == 2 for task_id in set(received)), received
    # Cal.com was asked to cancel once (the killed attempt never reached it).
    assert _calcom_calls(fake, r"/v2/bookings/[^/]+/cancel") == 1
    assert [booking["status"] for booking in fake.bookings.values()] == ["cancelled"]
    appointment = Appointment.objects.for_tenant(tenant).get()
    assert (appointment.status, appointment.sync_status) == (
        AppointmentStatus.CANCELLED,
        SyncStatus.SYNCED,
    )
    assert notified
    sms = SmsMessage.objects.for_tenant(tenant)
    assert sorted(sms.values_list("kind", "status")) == [
        ("cancellation", "sent"),
        ("confirmation", "sent"),
    ]
