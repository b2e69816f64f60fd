"""`make up` runs the Procfile's topology (web, realtime, worker, beat) against PostgreSQL, Redis
and RabbitMQ: a booking made over REST on web reaches a WebSocket subscriber of realtime (through
Redis) and the worker's outbox delivery, and Ctrl-C stops every process gracefully."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from websockets.sync.client import connect

from mcp_core.models import OutboxMessage, OutboxStatus
from tests import serving
from tests.bookings.test_booking_service import booking_args, make_world
from tests.deploy.topology import make_up
from tests.factories import ApiKeyFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.rabbitmq,
    pytest.mark.django_db(transaction=True),
]


def test_make_up_books_over_rest_and_the_worker_delivers_the_outbox(tmp_path: Path):
    world = make_world()
    _, token = ApiKeyFactory.create_with_plaintext(tenant=world.tenant, role="owner")
    env = {
        "PY": sys.executable,
        "DATABASE_URL": serving.test_database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "CELERY_BROKER_URL": os.environ["RABBITMQ_URL"],
        # The world books a fixed Monday in 2027.
        "MCP_BOOKING_MAX_ADVANCE_DAYS": "3650",
    }
    with make_up(env, tmp_path) as topology:
        with connect(
            topology.realtime.replace("http://", "ws://") + "/ws/v2/events",
            additional_headers={"Authorization": f"Bearer {token}"},
        ) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "authenticated"
            ws.send(json.dumps({"type": "subscribe", "channels": [f"branch.{world.branch.pk}"]}))
            assert json.loads(ws.recv(timeout=30))["type"] == "subscribed"
            status, booked = serving.api_request(
                topology.base, "/api/v2/mcp/bookings", token, booking_args(world)
            )
            assert status == 201
            live = json.loads(ws.recv(timeout=30))
        appointment_id = booked["appointment"]["id"]
        assert (live["event"], live["data"]["appointment_id"]) == (
            "booking.created",
            appointment_id,
        )
        # The cancellation's notification is not delivered inline: its task goes through
        # RabbitMQ to the worker.
        status, _ = serving.api_request(
            topology.base,
            "/api/v2/mcp/operations/booking.cancelBooking",
            token,
            {"appointment_id": appointment_id, "reason": "Test"},
        )
        assert status == 200
        message = OutboxMessage.objects.all_tenants().get(
            topic="notification.booking", payload__kind="cancellation"
        )
        deadline = time.monotonic() + 60
        while message.status != OutboxStatus.DELIVERED and time.monotonic() < deadline:
            time.sleep(0.3)
            message.refresh_from_db()
        exit_code = topology.stop()
        output = topology.output()

    assert message.status == OutboxStatus.DELIVERED
    assert message.attempts == 1
    lines = output.splitlines()
    delivered = [row for row in lines if "deliver_outbox_message[" in row and "succeeded" in row]
    assert delivered
    assert all(line.split()[1] == "worker.1" for line in delivered)
    # One beat; on Ctrl-C each process shuts down on its own terms, none is killed.
    assert sum("beat: Starting..." in line for line in lines) == 1
    assert "worker: Warm shutdown (MainProcess)" in output
    assert "Shutting down: Master" in output
    assert "realtime.1 | INFO:     Finished server process" in output
    for name in ("web", "realtime", "worker", "beat"):
        assert f"{name}.1 stopped" in output
    assert "SIGKILL" not in output
    assert exit_code != 0  # make reports the interrupt
