"""Chaos: Cal.com black-holed through a fault proxy (tests/deploy/fault_proxy.py) in front of the
Cal.com fake. Bookings still succeed locally, the breaker opens after the threshold and keeps
further calls from waiting, and once the proxy heals the outbox sweep syncs every appointment:
each one exactly once in Cal.com, nothing lost, nothing duplicated."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from bookings.enums import SyncStatus
from bookings.models import Appointment
from integrations.models import CalcomAccount
from mcp_core.breakers import breaker_states
from mcp_core.outbox import deliver_due_outbox_messages
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    MONDAY,
    NOW,
    _fresh_calendar,
    _frozen_time,
    book,
    outbox,
)
from tests.deploy.fault_proxy import FaultProxy

pytestmark = pytest.mark.django_db

BOOKINGS = 8


def test_bookings_go_on_while_calcom_is_black_holed_and_sync_once_it_heals(calcom, settings):
    settings.INTEGRATION_HTTP_TIMEOUT = 1.0
    world, fake = calcom.world, calcom.fake
    with FaultProxy(fake.port) as proxy:
        CalcomAccount.objects.all_tenants().filter(pk=calcom.account.pk).update(api_url=proxy.url)
        proxy.mode = "hang"
        booked = [
            book(world, start_time=f"{MONDAY}T{9 + n:02d}:00:00", customer_phone=f"0301234567{n}")
            for n in range(BOOKINGS)
        ]
        tried_while_down = proxy.connections
        state_while_down = breaker_states()["calcom"]
        unsynced = set(Appointment.objects.all_tenants().values_list("sync_status", flat=True))

        proxy.mode = "pass"
        later = NOW + dt.timedelta(seconds=settings.MCP_CIRCUIT_RECOVERY_TIMEOUT + 1)
        # The beat's sweep, each round an hour later, past any message's back-off.
        for hours in range(10):
            with time_machine.travel(later + dt.timedelta(hours=hours), tick=True):
                deliver_due_outbox_messages.apply().get()
            if not Appointment.objects.all_tenants().exclude(sync_status="synced").exists():
                break

    # Every booking was made locally, none waited past the breaker's opening.
    assert [data["appointment"]["sync_status"] for data in booked] == ["pending"] * BOOKINGS
    assert unsynced == {SyncStatus.PENDING}
    assert state_while_down == "open"
    assert tried_while_down == settings.MCP_CIRCUIT_FAILURE_THRESHOLD
    # Healed: each appointment once in Cal.com, under its own uid.
    appointments = Appointment.objects.all_tenants().order_by("start_time")
    uids = [appointment.external_calendar_id for appointment in appointments]
    assert len(appointments) == BOOKINGS
    assert sorted(uids) == sorted(booking["uid"] for booking in fake.active_bookings())
    assert len(set(uids)) == BOOKINGS
    assert breaker_states()["calcom"] == "closed"
