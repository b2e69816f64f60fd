"""Retell's webhooks and custom functions beyond the happy conversation: post-call bookings,
unknown events and numbers, bad bodies, errors said as German sentences, tenant isolation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings import notifications
from bookings.models import Appointment, Customer
from integrations.models import WebhookEvent
from integrations.retell.signature import sign
from mcp_core.auth import Principal
from mcp_core.management.demo import seed_demo
from mcp_core.orchestrator import execute_named
from mcp_core.permissions import Role
from routing.models import CallLog
from tests.factories import CompanyFactory
from tests.integrations.retell_helpers import (
    BERLIN,
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

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # Monday


@pytest.fixture(autouse=True)
def _demo(settings):
    settings.RETELL_API_KEY = TEST_KEY
    notifications.sent_messages.clear()
    with time_machine.travel(NOW, tick=False):
        seed_demo()
        yield
    notifications.sent_messages.clear()


def _analyzed(call_id: str, analysis_data: dict) -> Sent:
    call = call_object(
        call_id,
        "ended",
        transcript="Agent: Hallo\nUser: Morgen um zehn einen Herrenschnitt bitte.",
        disconnection_reason="agent_hangup",
        call_analysis={"call_summary": "Terminwunsch", "custom_analysis_data": analysis_data},
    )
    return event("call_analyzed", call)


def test_call_analyzed_with_a_booking_intent_books_once_and_links_the_call(client):
    request = _analyzed(
        "call_post_1",
        {
            "booking_intent": "true",
            "service": "Herrenschnitt",
            "date": "morgen",
            "time": "um zehn",
            "customer_name": "Erika Muster",
        },
    )
    assert post(client, request).status_code == 204
    appointment = Appointment.objects.all_tenants().get(call_id="call_post_1")
    assert appointment.start_time == dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC) - dt.timedelta(
        hours=1
    )
    assert appointment.customer.phone == CALLER
    log = CallLog.objects.all_tenants().get(call_id="call_post_1")
    assert (log.appointment, log.outcome, log.status) == (appointment, "booked", "ended")
    assert len([m for m in notifications.sent_messages if m.to == CALLER]) == 1
    # Retell retries (it did not see our answer in time): nothing new, no second SMS.
    assert post(client, request).status_code == 204
    assert post(client, event("call_ended", call_object("call_post_1", "ended"))).status_code == 204
    assert Appointment.objects.all_tenants().filter(call_id="call_post_1").count() == 1
    assert len([m for m in notifications.sent_messages if m.to == CALLER]) == 1
    assert CallLog.objects.all_tenants().get(call_id="call_post_1").outcome == "booked"


def test_call_analyzed_without_intent_or_with_an_unclear_wish_books_nothing(client):
    appointments = Appointment.objects.all_tenants().count()
    no_intent = _analyzed("call_post_2", {"booking_intent": False, "service": "Bart"})
    unclear = _analyzed(
        "call_post_3",
        {"booking_intent": True, "service": "Bart", "date": "irgendwann", "time": "10"},
    )
    for request in (no_intent, unclear):
        assert post(client, request).status_code == 204
    assert Appointment.objects.all_tenants().count() == appointments
    assert set(CallLog.objects.all_tenants().values_list("call_id", "outcome")) == {
        ("call_post_2", "no_booking"),
        ("call_post_3", "no_booking"),
    }


def test_unknown_events_and_numbers_are_acknowledged_and_change_nothing(client):
    for request in (
        signed("/webhooks/retell", {"event": "transcript_updated", "call": call_object("c9")}),
        signed("/webhooks/retell", {"event": "chat_started", "chat": {}}),
        event(
            "call_started",
            {**call_object("c9"), "to_number": "+493099999999", "agent_id": "agent_unknown"},
        ),
    ):
        assert post(client, request).status_code == 204
    assert CallLog.objects.all_tenants().count() == 0
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"event": "call_started"}',
        b'{"event": "call_started", "call": {"call_id": 7}}',
    ],
)
def test_bad_bodies_with_a_valid_signature_get_400_not_500(client, body):
    request = Sent(path="/webhooks/retell", body=body, signature=sign(body.decode(), TEST_KEY))
    response = post(client, request)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "VALIDATION_FAILED"
    assert CallLog.objects.all_tenants().count() == 0


def test_call_inbound_for_an_unknown_number_answers_the_default_agent(client, settings):
    settings.RETELL_DEFAULT_AGENT_ID = "agent_default_de"
    request = signed(
        "/webhooks/retell",
        {"event": "call_inbound", "call_inbound": {"from_number": CALLER, "to_number": "+49301"}},
    )
    response = post(client, request)
    assert response.status_code == 200
    assert response.json()["call_inbound"]["override_agent_id"] == "agent_default_de"


def test_call_inbound_greets_a_known_caller_by_name(client):
    request = signed(
        "/webhooks/retell",
        {
            "event": "call_inbound",
            "call_inbound": {"from_number": "+4915112345678", "to_number": BERLIN},
        },
    )
    answer = post(client, request).json()["call_inbound"]
    assert answer["override_agent_id"] == "agent_demo_berlin_de"
    assert answer["dynamic_variables"]["customer_name"] == "Maria Hoffmann"
    assert answer["dynamic_variables"]["branch_name"] == "Berlin Mitte"


def _say(client, name, args, call=None):
    response = post(client, function(name, args, call or call_object("call_f")))
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize(
    ("name", "args", "error"),
    [
        ("check_availability", {"service": "Massage", "date": "morgen"}, "service_not_found"),
        ("check_availability", {"service": "Haarschnitt", "date": "morgen"}, "service_ambiguous"),
        ("check_availability", {"service": "Bart", "date": "irgendwann"}, "unclear_date"),
        ("check_availability", {"service": "Bart", "date": "2026-11-20"}, "date_in_past"),
        ("check_availability", {"service": "Bart"}, "missing_argument"),
        (
            "check_availability",
            {"service": "Bart", "date": "morgen", "branch_id": 999},
            "branch_not_found",
        ),
        ("book_appointment", {"service": "Bart", "date": "morgen", "time": "bald"}, "unclear_time"),
        ("book_appointment", {"service": "Bart", "date": "morgen"}, "missing_argument"),
        (
            "book_appointment",
            {"service": ["Bart"], "date": "morgen", "time": "10"},
            "invalid_argument",
        ),
        ("cancel_appointment", {"confirmation_number": "AAA-AAA"}, "appointment_not_found"),
        (
            "reschedule_appointment",
            {"confirmation_number": "AAA-AAA", "date": "morgen", "time": "10"},
            "appointment_not_found",
        ),
        ("find_nearest_branch", {}, "missing_argument"),
        ("make_coffee", {}, "unknown_function"),
    ],
)
def test_errors_are_sentences_the_agent_can_say(client, name, args, error):
    appointments = Appointment.objects.all_tenants().count()
    answer = _say(client, name, args)
    assert answer["data"]["error"]["type"] == error
    assert answer["result"].endswith((".", "?"))
    assert "Traceback" not in answer["result"]
    assert Appointment.objects.all_tenants().count() == appointments


def test_a_call_to_an_unknown_number_or_from_a_hidden_number_books_nothing(client):
    unknown = _say(
        client,
        "book_appointment",
        {"service": "Bart", "date": "morgen", "time": "10"},
        {**call_object("c1"), "to_number": "+493099999999", "agent_id": "agent_x"},
    )
    assert unknown["data"]["error"]["type"] == "line_unknown"
    hidden = _say(
        client,
        "book_appointment",
        {"service": "Bart", "date": "morgen", "time": "10"},
        {**call_object("c2"), "from_number": "anonymous"},
    )
    assert hidden["data"]["error"]["type"] == "caller_unknown"
    assert not Appointment.objects.all_tenants().filter(call_id__in=["c1", "c2"]).exists()


def test_args_at_root_are_understood(client):
    body = {"name": "check_availability", "service": "Bart", "date": "morgen", "time": "10 Uhr"}
    body["call"] = call_object("c3")
    answer = post(client, signed("/webhooks/retell/functions", body)).json()
    assert answer["data"]["time"] == "10:00"


def test_only_the_callers_own_appointment_can_be_cancelled(client):
    booked = _say(client, "book_appointment", {"service": "Bart", "date": "morgen", "time": "10"})
    number = booked["data"]["confirmation_number"]
    stranger = {**call_object("c4"), "from_number": "+4917012345678"}
    answer = _say(client, "cancel_appointment", {"confirmation_number": number}, stranger)
    assert answer["data"]["error"]["type"] == "appointment_not_found"
    assert Appointment.objects.all_tenants().get(confirmation_number=number).status == "confirmed"


def test_reschedule_moves_the_callers_appointment_or_offers_alternatives(client):
    bart = {"service": "Bart", "date": "morgen", "staff": "Ben"}
    first = _say(client, "book_appointment", {**bart, "time": "10"})
    number = first["data"]["confirmation_number"]

    # Ben has the demo's 11:00 appointment tomorrow.
    taken = _say(
        client,
        "reschedule_appointment",
        {"confirmation_number": number, "date": "morgen", "time": "11 Uhr"},
    )
    assert taken["data"]["rescheduled"] is False
    assert taken["data"]["alternatives"]
    assert "11:00" in taken["result"]
    appointment = Appointment.objects.all_tenants().get(confirmation_number=number)
    assert appointment.start_time == dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)  # 10:00 CET

    moved = _say(
        client,
        "reschedule_appointment",
        {"confirmation_number": number, "date": "übermorgen", "time": "halb zwölf"},
    )
    assert moved["data"]["rescheduled"] is True
    assert moved["result"].startswith(
        "Ihr Termin ist verschoben auf Mittwoch, 25. November um 11:30"
    )
    appointment.refresh_from_db()
    assert appointment.start_time == dt.datetime(2026, 11, 25, 10, 30, tzinfo=dt.UTC)
    assert CallLog.objects.all_tenants().get(call_id="call_f").outcome == "rescheduled"


def test_dst_dates_are_read_and_spoken_in_berlin_time(client):
    # Friday before the switch to summer time (Sunday 28 March 2027).
    with time_machine.travel(
        dt.datetime(2027, 3, 26, 10, tzinfo=ZoneInfo("Europe/Berlin")), tick=False
    ):
        answer = _say(
            client, "check_availability", {"service": "Bart", "date": "Montag", "time": "9 Uhr"}
        )
    assert answer["data"]["date"] == "2027-03-29"
    assert answer["data"]["slots"][0]["start"] == "2027-03-29T09:00:00+02:00"
    assert "9:00" in answer["result"]


def test_process_retell_webhook_with_an_api_key_acts_only_on_the_keys_tenant():
    other = CompanyFactory()
    result = execute_named(
        Principal.system(other, "test", Role.OWNER),
        "integration.processRetellWebhook",
        {"event": "call_started", "call": call_object("c6")},
    )
    assert result.error is not None and result.error.error_type.name == "RESOURCE_NOT_FOUND"
    staff = execute_named(
        Principal.system(other, "test", Role.STAFF),
        "integration.processRetellWebhook",
        {"event": "call_started", "call": call_object("c6")},
    )
    assert staff.error is not None and staff.error.error_type.name == "PERMISSION_DENIED"
    assert CallLog.objects.all_tenants().count() == 0
    assert Customer.objects.all_tenants().filter(tenant=other).count() == 0


def test_with_the_database_away_nothing_answers_500(client, monkeypatch, settings):
    from django.db import OperationalError

    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    settings.RETELL_DEFAULT_AGENT_ID = "agent_default_de"
    monkeypatch.setattr("integrations.retell.views.line_for", unreachable)
    monkeypatch.setattr("integrations.retell.functions.line_for", unreachable)
    monkeypatch.setattr("routing.selectors.phone_number_find", unreachable)

    webhook = post(client, event("call_started", call_object("c7")))
    assert webhook.status_code == 503  # Retell retries it later
    assert webhook.json()["error"]["type"] == "SERVICE_UNAVAILABLE"

    spoken = _say(client, "check_availability", {"service": "Bart", "date": "morgen"})
    assert spoken["data"]["error"]["type"] == "service_unavailable"
    assert "nicht erreichbar" in spoken["result"]

    inbound = signed(
        "/webhooks/retell",
        {"event": "call_inbound", "call_inbound": {"from_number": CALLER, "to_number": BERLIN}},
    )
    answer = post(client, inbound)
    assert answer.status_code == 200
    assert answer.json()["call_inbound"]["override_agent_id"] == "agent_default_de"
    assert CallLog.objects.all_tenants().count() == 0


def test_a_web_call_without_numbers_is_found_by_its_agent(client):
    web_call = {**call_object("c8"), "call_type": "web_call"}
    del web_call["to_number"]
    assert post(client, event("call_started", web_call)).status_code == 204
    log = CallLog.objects.all_tenants().get(call_id="c8")
    assert (log.branch.name, log.status) == ("Berlin Mitte", "ongoing")


def test_a_late_analysis_reads_relative_dates_from_the_calls_day(client):
    late = NOW.replace(hour=23, minute=58)
    call = call_object(
        "call_late",
        "ended",
        start_timestamp=int(late.timestamp() * 1000),
        call_analysis={
            "custom_analysis_data": {
                "booking_intent": True,
                "service": "Bartpflege",
                "date": "morgen",
                "time": "14 Uhr",
            }
        },
    )
    # Delivered after midnight: "morgen" is still Tuesday, the day after the call.
    with time_machine.travel(late + dt.timedelta(minutes=5), tick=False):
        assert post(client, event("call_analyzed", call)).status_code == 204
    appointment = Appointment.objects.all_tenants().get(call_id="call_late")
    assert appointment.start_time == dt.datetime(2026, 11, 24, 13, tzinfo=dt.UTC)
