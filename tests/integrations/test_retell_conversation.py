"""A whole phone call to the demo Berlin number, as Retell sends it: signed webhooks and custom
functions, ending with one appointment, one call log linked to it and one confirmation SMS."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings import notifications
from bookings.enums import AppointmentSource
from bookings.models import Appointment, Customer
from integrations.models import WebhookEvent
from integrations.retell.signature import sign
from mcp_core.management.demo import seed_demo
from routing.models import CallLog
from tests.integrations.retell_helpers import (
    CALLER,
    TEST_KEY,
    Sent,
    call_object,
    event,
    function,
    post,
    signed,
)

pytestmark = pytest.mark.django_db(transaction=True)

BERLIN_TZ = ZoneInfo("Europe/Berlin")
# A Monday morning: "morgen" is Tuesday, a working day of Berlin's staff.
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN_TZ)
CALL_ID = "call_7f3c0e2a9b1d4c5e8f6a"


@pytest.fixture(autouse=True)
def _retell(settings):
    settings.RETELL_API_KEY = TEST_KEY
    notifications.sent_messages.clear()
    yield
    notifications.sent_messages.clear()


def _sms_to_caller() -> list[notifications.SentMessage]:
    return [m for m in notifications.sent_messages if m.channel == "sms" and m.to == CALLER]


def _conversation(client):
    """Run the call; returns every request sent and the answers that matter."""
    sent = []

    def send(request, expected_status):
        response = post(client, request)
        assert response.status_code == expected_status, response.content
        sent.append(request)
        return response

    inbound = signed(
        "/webhooks/retell",
        {
            "event": "call_inbound",
            "call_inbound": {"from_number": CALLER, "to_number": "+493012345670"},
        },
    )
    answer = send(inbound, 200).json()
    assert answer["call_inbound"]["override_agent_id"] == "agent_demo_berlin_de"
    assert answer["call_inbound"]["dynamic_variables"]
    assert all(isinstance(v, str) for v in answer["call_inbound"]["dynamic_variables"].values())

    started = call_object(CALL_ID, "ongoing", start_timestamp=int(NOW.timestamp() * 1000))
    send(event("call_started", started), 204)

    routed = send(function("route_call", {}, started), 200).json()
    assert routed["result"]
    assert "error" not in routed["data"], routed

    available = send(
        function("check_availability", {"service": "Herrenschnitt", "date": "morgen"}, started),
        200,
    ).json()
    assert available["data"]["date"] == "2026-11-24"
    assert available["data"]["time"] is None
    assert available["data"]["slots"], available
    first = available["data"]["slots"][0]
    start = dt.datetime.fromisoformat(first["start"])
    assert start.date() == dt.date(2026, 11, 24)
    assert set(first) == {"start", "end", "staff_id", "branch_id"}
    assert f"Dienstag, {start.hour}:{start.minute:02d}" in available["result"]

    booked = send(
        function(
            "book_appointment",
            {
                "service": "Herrenschnitt",
                "date": "morgen",
                "time": start.strftime("%H:%M"),
                "customer_name": "Max Mustermann",
            },
            started,
        ),
        200,
    ).json()
    assert booked["data"]["booked"] is True, booked
    number = booked["data"]["confirmation_number"]
    assert number in booked["result"]
    assert "Herrenhaarschnitt" in booked["result"]

    transcript = (
        "Agent: Salon Sonnenschein, guten Tag!\nUser: Ich hätte gern morgen einen Herrenschnitt."
    )
    end_ms = int((NOW + dt.timedelta(minutes=3)).timestamp() * 1000)
    ended = call_object(
        CALL_ID,
        "ended",
        start_timestamp=int(NOW.timestamp() * 1000),
        end_timestamp=end_ms,
        duration_ms=180_000,
        transcript=transcript,
        disconnection_reason="user_hangup",
    )
    send(event("call_ended", ended), 204)
    analyzed = {
        **ended,
        "call_analysis": {
            "call_summary": "Herrenschnitt für morgen gebucht.",
            "call_successful": True,
            "user_sentiment": "Positive",
            "in_voicemail": False,
            "custom_analysis_data": {
                "booking_intent": True,
                "service": "Herrenschnitt",
                "date": "morgen",
                "time": start.strftime("%H:%M"),
            },
        },
    }
    send(event("call_analyzed", analyzed), 204)
    return sent, number, start, transcript


def _assert_end_state(number, start, transcript):
    appointments = Appointment.objects.all_tenants().filter(call_id=CALL_ID)
    assert appointments.count() == 1
    appointment = appointments.get()
    assert appointment.confirmation_number == number
    assert appointment.start_time == start
    assert appointment.source == AppointmentSource.PHONE
    assert appointment.service.name == "Herrenhaarschnitt"
    assert appointment.customer == Customer.objects.all_tenants().get(phone=CALLER)
    assert appointment.customer.name == "Max Mustermann"

    log = CallLog.objects.all_tenants().get()
    assert log.call_id == CALL_ID
    assert log.appointment == appointment
    assert log.customer == appointment.customer
    assert log.outcome == "booked"
    assert log.status == "ended"
    assert log.transcript == transcript
    assert log.duration_seconds == 180
    assert log.analysis["call_summary"] == "Herrenschnitt für morgen gebucht."
    assert log.branch.name == "Berlin Mitte"

    sms = _sms_to_caller()
    assert len(sms) == 1
    assert number in sms[0].body


def test_a_call_books_one_appointment_logs_the_call_and_sends_one_sms(client):
    with time_machine.travel(NOW, tick=False):
        seed_demo()
        _sent, number, start, transcript = _conversation(client)
        _assert_end_state(number, start, transcript)


def test_replaying_every_request_changes_nothing(client):
    with time_machine.travel(NOW, tick=False):
        seed_demo()
        sent, number, start, transcript = _conversation(client)
        appointments, events = (
            Appointment.objects.all_tenants().count(),
            WebhookEvent.objects.count(),
        )
        for request in sent:
            response = post(client, request)
            assert response.status_code in (200, 204)
        _assert_end_state(number, start, transcript)
        assert Appointment.objects.all_tenants().count() == appointments
        assert WebhookEvent.objects.count() == events


def test_call_ended_after_call_analyzed_does_not_undo_it(client):
    with time_machine.travel(NOW, tick=False):
        seed_demo()
        ended = call_object(
            CALL_ID, "ended", transcript="Agent: Hallo", disconnection_reason="user_hangup"
        )
        analyzed = {
            **ended,
            "call_analysis": {"call_summary": "Nur eine Frage.", "custom_analysis_data": {}},
        }
        assert post(client, event("call_analyzed", analyzed)).status_code == 204
        assert post(client, event("call_ended", ended)).status_code == 204
        assert post(client, event("call_started", call_object(CALL_ID))).status_code == 204
        log = CallLog.objects.all_tenants().get()
        assert (log.status, log.outcome) == ("ended", "no_booking")
        assert log.analysis["call_summary"] == "Nur eine Frage."
        assert log.transcript == "Agent: Hallo"


def _bad_signature(kind: str, body: bytes) -> str:
    return {
        "missing": "",
        "garbage": "garbage",
        "wrong digest": f"v={int(NOW.timestamp() * 1000)},d={'0' * 64}",
        "other key": sign(body.decode(), "key_of_someone_else"),
    }[kind]


@pytest.mark.parametrize("kind", ["missing", "garbage", "wrong digest", "other key"])
def test_a_bad_or_missing_signature_gets_401_and_writes_nothing(client, kind):
    with time_machine.travel(NOW, tick=False):
        seed_demo()
        before = (Appointment.objects.all_tenants().count(), Customer.objects.all_tenants().count())
        started = call_object(CALL_ID)
        requests = [
            event("call_started", started),
            event("call_analyzed", {**started, "call_analysis": {"custom_analysis_data": {}}}),
            function(
                "book_appointment",
                {"service": "Herrenschnitt", "date": "morgen", "time": "10:00"},
                started,
            ),
            signed(
                "/webhooks/retell",
                {
                    "event": "call_inbound",
                    "call_inbound": {"from_number": CALLER, "to_number": "+493012345670"},
                },
            ),
        ]
        for request in requests:
            response = post(client, request, _bad_signature(kind, request.body))
            assert response.status_code == 401
            assert response.json()["error"]["type"] == "AUTHENTICATION_FAILED"
        assert (
            Appointment.objects.all_tenants().count(),
            Customer.objects.all_tenants().count(),
        ) == before
        assert CallLog.objects.all_tenants().count() == 0
        assert WebhookEvent.objects.count() == 0
        assert _sms_to_caller() == []


def test_a_tampered_body_fails_its_signature(client):
    with time_machine.travel(NOW, tick=False):
        seed_demo()
        request = event("call_started", call_object(CALL_ID))
        tampered = Sent(
            path=request.path,
            body=request.body.replace(b"ongoing", b"ended  "),
            signature=request.signature,
        )
        assert post(client, tampered).status_code == 401
        assert CallLog.objects.all_tenants().count() == 0


def test_a_stale_signature_is_refused(client):
    with time_machine.travel(NOW, tick=False):
        seed_demo()
        request = event("call_started", call_object(CALL_ID))
    with time_machine.travel(NOW + dt.timedelta(minutes=6), tick=False):
        assert post(client, request).status_code == 401
        assert CallLog.objects.all_tenants().count() == 0
