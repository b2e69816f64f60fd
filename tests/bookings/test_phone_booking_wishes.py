"""What the caller wants, through the REST front door of booking.processPhoneBooking: notes
kept on the appointment, a staff wish ("bei Anna", "egal wer"), a busy wished member's own
free times offered first."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings import notifications
from bookings.models import Appointment
from mcp_core.management.demo import demo_api_key_plaintext, seed_demo
from staff.models import Staff
from tenants.models import Branch, Company

pytestmark = pytest.mark.django_db(transaction=True)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)  # Monday


@pytest.fixture
def demo():
    notifications.sent_messages.clear()
    with time_machine.travel(NOW, tick=False):
        seed_demo()
        yield Company.objects.get(slug="salon-sonnenschein")
    notifications.sent_messages.clear()


def _post(client: Any, args: dict[str, Any]) -> Any:
    return client.post(
        "/api/v2/mcp/operations/booking.processPhoneBooking",
        json.dumps(args),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {demo_api_key_plaintext()}",
    )


def _args(tenant: Company, **extra: Any) -> dict[str, Any]:
    berlin = Branch.objects.for_tenant(tenant).get(name="Berlin Mitte")
    return {
        "caller_phone": "+4915790001234",
        "branch_id": berlin.pk,
        "start_time": "2026-11-24T15:00:00",
        "service": "Damenschnitt",
        **extra,
    }


def _anna(tenant: Company) -> Staff:
    return Staff.objects.for_tenant(tenant).get(name="Anna Schmidt")


def test_notes_and_anyone_are_carried_into_the_appointment(client, demo):
    response = _post(
        client, _args(demo, notes="Ich bringe meinen Hund mit", staff="egal wer", call_id="c1")
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["booked"], data["wished_staff"]) == (True, None)
    appointment = Appointment.objects.for_tenant(demo).get(pk=data["appointment"]["id"])
    assert appointment.notes == "Ich bringe meinen Hund mit"


def test_a_wished_member_is_booked(client, demo):
    data = _post(client, _args(demo, staff="bei Anna")).json()
    assert data["booked"] is True
    assert data["staff"] == {"id": _anna(demo).pk, "name": "Anna Schmidt"}


def test_a_busy_wished_member_gets_her_own_times_first_and_nothing_is_written(client, demo):
    first = _post(client, _args(demo, staff="Anna", idempotency_key="first")).json()
    assert first["booked"] is True
    count = Appointment.objects.for_tenant(demo).count()
    again = _post(client, _args(demo, staff="Anna", caller_phone="+4917011122233")).json()
    anna = _anna(demo)
    assert again["booked"] is False
    assert again["wished_staff"] == {"id": anna.pk, "name": "Anna Schmidt"}
    owners = [slot["staff_id"] for slot in again["alternatives"]]
    assert len(owners) == 4 and owners[:3] == [anna.pk] * 3 and owners[3] != anna.pk
    assert Appointment.objects.for_tenant(demo).count() == count


def test_notes_beyond_the_limit_are_refused_and_nothing_is_written(client, demo):
    count = Appointment.objects.for_tenant(demo).count()
    response = _post(client, _args(demo, notes="x" * 1001))
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["type"] == "VALIDATION_FAILED"
    assert "notes" in json.dumps(body["error"]["details"])
    assert Appointment.objects.for_tenant(demo).count() == count
