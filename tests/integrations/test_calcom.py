"""Cal.com API v2 as the calendar backend, against the local fake on a real socket.

The world is the booking tests' (Monday 2027-03-01 08:00 Berlin; bookings on Monday
2027-03-08, CET +01:00); Cal.com is configured for the tenant by the `calcom` fixture.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
import time_machine

from bookings.enums import AppointmentStatus, SyncStatus
from bookings.models import Appointment
from integrations.models import CalcomBusyBlock, WebhookEvent
from mcp_core.breakers import breaker_states
from mcp_core.models import AuditLog, OutboxMessage, OutboxStatus
from mcp_core.outbox import deliver_due_outbox_messages, deliver_outbox_message
from staff.models import TimeBlock
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    MONDAY,
    NOW,
    _fresh_calendar,
    _frozen_time,
    at,
    book,
    booking_args,
    existing,
    make_world,
    outbox,
)
from tests.integrations.conftest import EVENT_TYPE_ID, WEBHOOK_SECRET, connect_calcom
from tests.operations import call, ok

pytestmark = pytest.mark.django_db


def calendar_message(appointment_id: int) -> OutboxMessage:
    return (
        OutboxMessage.objects.all_tenants()
        .filter(topic="calendar.sync", payload__appointment_id=appointment_id)
        .latest("pk")
    )


def make_due(message: OutboxMessage) -> None:
    OutboxMessage.objects.all_tenants().filter(pk=message.pk).update(next_attempt_at=NOW)


def unsynced(calcom) -> Appointment:
    """An appointment still to be created in Cal.com (as if its sync had failed so far)."""
    return existing(calcom.world, calcom.world.anna, at("11:00"), sync_status=SyncStatus.PENDING)


# ----------------------------------------------------------------------- the wire format


def test_a_booking_is_created_in_calcom_in_its_wire_format(calcom):
    data = book(calcom.world, customer_email="erika@example.de", notes="Bitte Parkplatz")

    appointment = Appointment.objects.all_tenants().get()
    [booking] = calcom.fake.active_bookings()
    assert data["appointment"]["sync_status"] == "synced"
    assert (appointment.sync_status, appointment.external_calendar_id) == (
        SyncStatus.SYNCED,
        booking["uid"],
    )
    [request] = calcom.fake.calls("POST")
    assert request.path == "/v2/bookings"
    assert request.headers["authorization"] == f"Bearer {calcom.fake.api_key}"
    assert request.headers["cal-api-version"] == "2024-08-13"
    assert request.body == {
        "start": "2027-03-08T09:00:00Z",
        "eventTypeId": EVENT_TYPE_ID,
        "attendee": {
            "name": "Erika Mustermann",
            "timeZone": "Europe/Berlin",
            "language": "de",
            "email": "erika@example.de",
            "phoneNumber": "+49301234567",
        },
        "metadata": {
            "askproai_tenant_id": str(calcom.world.tenant.pk),
            "askproai_appointment_id": str(appointment.pk),
            "askproai_confirmation": appointment.confirmation_number,
        },
        "bookingFieldsResponses": {"notes": "Bitte Parkplatz"},
    }
    assert (
        OutboxMessage.objects.all_tenants().get(topic="calendar.sync").status
        == OutboxStatus.DELIVERED
    )


def test_reschedule_and_cancel_follow_in_calcom(calcom, django_capture_on_commit_callbacks):
    data = book(calcom.world)
    appointment_id = data["appointment"]["id"]
    first_uid = Appointment.objects.all_tenants().get().external_calendar_id

    with django_capture_on_commit_callbacks(execute=True):
        ok(
            calcom.world.principal,
            "booking.rescheduleBooking",
            {"appointment_id": appointment_id, "start_time": f"{MONDAY}T14:00:00"},
        )

    moved = Appointment.objects.all_tenants().get()
    [booking] = calcom.fake.active_bookings()
    assert booking["start"] == "2027-03-08T13:00:00.000Z"
    assert booking["rescheduledFromUid"] == first_uid
    assert (moved.external_calendar_id, moved.sync_status) == (booking["uid"], SyncStatus.SYNCED)
    [reschedule] = calcom.fake.calls("POST", f"/v2/bookings/{first_uid}/reschedule")
    assert reschedule.body == {
        "start": "2027-03-08T13:00:00Z",
        "reschedulingReason": "Umgebucht über AskProAI",
    }

    with django_capture_on_commit_callbacks(execute=True):
        ok(calcom.world.principal, "booking.cancelBooking", {"appointment_id": appointment_id})

    assert calcom.fake.active_bookings() == []
    assert calcom.fake.bookings[booking["uid"]]["status"] == "cancelled"
    assert Appointment.objects.all_tenants().get().sync_status == SyncStatus.SYNCED


def test_without_credentials_or_event_type_bookings_stay_local(calcom):
    calcom.event_type.delete()

    data = book(calcom.world)

    assert data["appointment"]["sync_status"] == "not_required"
    assert calcom.fake.requests == []
    assert not OutboxMessage.objects.all_tenants().filter(topic="calendar.sync").exists()


def test_the_global_key_serves_a_tenant_without_its_own(calcom, settings):
    calcom.account.delete()
    settings.CALCOM_API_KEY = calcom.fake.api_key
    settings.CALCOM_API_URL = calcom.fake.url + "/v2"  # the documented base also works

    data = book(calcom.world)

    assert data["appointment"]["sync_status"] == "synced"
    assert len(calcom.fake.active_bookings()) == 1


# ------------------------------------------------------------------------- reliability


def test_calcom_down_the_booking_stands_pending_and_the_retry_syncs_it_once(calcom):
    calcom.fake.stop()

    data = book(calcom.world)

    assert data["appointment"]["status"] == "confirmed"
    assert data["appointment"]["sync_status"] == "pending"
    assert data["notifications_sent"] == ["sms"]
    message = calendar_message(data["appointment"]["id"])
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert "unreachable" in message.last_error

    calcom.fake.start()  # back, on the same port
    make_due(message)
    assert deliver_outbox_message.apply(args=(message.pk,)).get() == "delivered"
    # A second delivery of the same message (a duplicate task, the sweep) changes nothing.
    assert deliver_outbox_message.apply(args=(message.pk,)).get() == "delivered"
    assert deliver_due_outbox_messages.apply().get() == []

    appointment = Appointment.objects.all_tenants().get()
    [booking] = calcom.fake.active_bookings()
    assert booking["metadata"]["askproai_confirmation"] == appointment.confirmation_number
    assert (appointment.sync_status, appointment.external_calendar_id) == (
        SyncStatus.SYNCED,
        booking["uid"],
    )
    assert len(calcom.fake.calls("POST")) == 1


def test_a_create_whose_answer_was_lost_is_found_instead_of_made_twice(calcom):
    appointment = unsynced(calcom)
    ok(calcom.world.principal, "integration.syncCalendarEvent", {"appointment_id": appointment.pk})
    uid = Appointment.objects.all_tenants().get().external_calendar_id
    # As if our side never heard the answer: the retry creates again and Cal.com refuses.
    Appointment.objects.all_tenants().filter(pk=appointment.pk).update(external_calendar_id="")

    data = ok(
        calcom.world.principal, "integration.syncCalendarEvent", {"appointment_id": appointment.pk}
    )

    assert (data["sync_status"], data["external_calendar_id"]) == ("synced", uid)
    assert len(calcom.fake.active_bookings()) == 1


def test_five_failures_open_the_breaker_and_one_trial_closes_it_again(calcom):
    appointment = unsynced(calcom)
    calcom.fake.fail_with = 500
    args = {"appointment_id": appointment.pk}

    for _ in range(5):
        result = call(calcom.world.principal, "integration.syncCalendarEvent", args)
        assert result.error.error_type.name == "INTEGRATION_ERROR"
    assert breaker_states()["calcom"] == "open"

    sixth = call(calcom.world.principal, "integration.syncCalendarEvent", args)

    assert sixth.error.error_type.name == "SERVICE_UNAVAILABLE"
    assert "temporarily unavailable" in sixth.error.message
    assert len(calcom.fake.requests) == 5  # the sixth never reached Cal.com

    calcom.fake.fail_with = None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)
    with time_machine.travel(later, tick=True):
        data = ok(calcom.world.principal, "integration.syncCalendarEvent", args)

    assert data["sync_status"] == "synced"
    assert breaker_states()["calcom"] == "closed"
    assert len(calcom.fake.requests) == 6
    assert len(calcom.fake.active_bookings()) == 1


def test_a_slow_calcom_fails_with_timeout_in_under_three_seconds(calcom):
    appointment = unsynced(calcom)
    calcom.fake.delay = 5.0

    started = time.perf_counter()
    result = call(
        calcom.world.principal, "integration.syncCalendarEvent", {"appointment_id": appointment.pk}
    )
    elapsed = time.perf_counter() - started

    assert elapsed < 3.0
    envelope = result.error.envelope()["error"]
    assert (envelope["type"], envelope["code"]) == ("SERVICE_UNAVAILABLE", 1005)
    assert "timeout" in envelope["message"]
    assert Appointment.objects.all_tenants().get().sync_status == SyncStatus.PENDING


def test_a_slow_calcom_never_holds_a_booking_back_beyond_the_time_out(calcom):
    calcom.fake.delay = 5.0

    started = time.perf_counter()
    data = book(calcom.world)

    assert time.perf_counter() - started < 4.0
    assert data["appointment"]["sync_status"] == "pending"
    assert "timeout" in calendar_message(data["appointment"]["id"]).last_error


def test_a_request_calcom_refuses_is_dead_lettered_at_once_and_operations_hear(
    calcom, settings, mailoutbox
):
    settings.OPERATIONS_ALERT_EMAILS = ["ops@askproai.example"]
    calcom.fake.event_types.pop(EVENT_TYPE_ID)  # Cal.com no longer knows the event type

    data = book(calcom.world)

    message = calendar_message(data["appointment"]["id"])
    assert (message.status, message.attempts) == (OutboxStatus.DEAD, 1)
    assert Appointment.objects.all_tenants().get().sync_status == SyncStatus.FAILED
    assert breaker_states()["calcom"] == "closed"  # our request was wrong, not Cal.com down
    [alert] = [m for m in mailoutbox if m.to == ["ops@askproai.example"]]
    assert f"calendar.sync #{message.pk}" in alert.subject
    assert "eventTypeId is unknown" in alert.body


# -------------------------------------------------------------------- retryFailedSync


def test_retry_failed_sync_replays_dead_messages_of_the_callers_tenant_only(
    calcom, django_capture_on_commit_callbacks
):
    calcom.fake.event_types.pop(EVENT_TYPE_ID)
    data = book(calcom.world)
    dead = calendar_message(data["appointment"]["id"])
    other = make_world()
    other_dead = OutboxMessage.objects.create(
        tenant=other.tenant,
        topic="calendar.sync",
        payload={"appointment_id": 999},
        dedupe_key="other",
        status=OutboxStatus.DEAD,
    )
    calcom.fake.event_types[EVENT_TYPE_ID] = "wieder-da"

    with django_capture_on_commit_callbacks(execute=True):
        result = ok(
            calcom.world.principal, "integration.retryFailedSync", {"topic": "calendar.sync"}
        )

    assert result == {"requeued": 1, "message_ids": [dead.pk]}
    dead.refresh_from_db()
    other_dead.refresh_from_db()
    assert dead.status == OutboxStatus.DELIVERED
    assert other_dead.status == OutboxStatus.DEAD
    assert Appointment.objects.all_tenants().get().sync_status == SyncStatus.SYNCED
    assert len(calcom.fake.active_bookings()) == 1
    assert AuditLog.objects.all_tenants().filter(action="outbox.retried").count() == 1


def test_retry_failed_sync_refuses_an_unknown_topic(calcom):
    result = call(calcom.world.principal, "integration.retryFailedSync", {"topic": "nope"})

    assert result.error.error_type.name == "VALIDATION_FAILED"
    assert "topic" in result.error.details


# ------------------------------------------------------------------------------ health


def test_health_names_calcom_configured_for_the_tenant_and_counts_the_outbox(calcom):
    calcom.fake.stop()
    book(calcom.world)

    data = ok(calcom.world.principal, "integration.checkIntegrationHealth", {})

    assert data["integrations"]["calcom"] == {
        "status": "configured",
        "circuit": "closed",
        "calendar_backend": "calcom",
    }
    assert data["integrations"]["stripe"]["status"] == "not_configured"
    assert data["integrations"]["sms"]["status"] == "configured"
    assert data["outbox"] == {"calendar.sync": {"pending": 1, "dead": 0}}

    other = make_world()
    assert (
        ok(other.principal, "integration.checkIntegrationHealth", {})["integrations"]["calcom"][
            "status"
        ]
        == "not_configured"
    )


# ----------------------------------------------------------------------------- webhook


def post_webhook(client, body: bytes, signature: str):
    return client.post(
        "/webhooks/calcom",
        data=body,
        content_type="application/json",
        HTTP_X_CAL_SIGNATURE_256=signature,
    )


def test_webhook_with_a_bad_signature_is_refused_and_changes_nothing(calcom, client):
    book(calcom.world)
    booking = calcom.fake.active_bookings()[0]
    body, _ = calcom.fake.webhook("BOOKING_CANCELLED", booking, secret=WEBHOOK_SECRET)

    for signature in ("0" * 64, "no-secret-provided", ""):
        response = post_webhook(client, body, signature)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "AUTHENTICATION_FAILED"

    assert Appointment.objects.all_tenants().get().status == AppointmentStatus.CONFIRMED
    assert WebhookEvent.objects.count() == 0


def test_webhook_cancellation_applies_once_and_a_replay_changes_nothing(calcom, client):
    book(calcom.world)
    booking = calcom.fake.active_bookings()[0]
    body, signature = calcom.fake.webhook(
        "BOOKING_CANCELLED", booking, secret=WEBHOOK_SECRET, cancellationReason="Krank"
    )

    first = post_webhook(client, body, signature)
    audit_rows = AuditLog.objects.all_tenants().count()
    replay = post_webhook(client, body, signature)

    appointment = Appointment.objects.all_tenants().get()
    assert first.status_code == 200
    assert first.json() == {
        "status": "applied",
        "appointment_id": appointment.pk,
        "action": "cancelled",
    }
    assert (appointment.status, appointment.cancellation_reason) == ("cancelled", "Krank")
    assert replay.status_code == 200
    assert replay.json() == {"status": "duplicate"}
    assert AuditLog.objects.all_tenants().count() == audit_rows
    assert WebhookEvent.objects.get().event_id == f"BOOKING_CANCELLED:{booking['uid']}"
    # Not echoed back: Cal.com is where the cancellation came from.
    assert calcom.fake.calls("POST", f"/v2/bookings/{booking['uid']}/cancel") == []
    assert (
        not OutboxMessage.objects.all_tenants()
        .filter(topic="calendar.sync", status=OutboxStatus.PENDING)
        .exists()
    )


def test_webhook_reschedule_moves_our_appointment_and_takes_the_new_uid(calcom, client):
    book(calcom.world)
    old = calcom.fake.active_bookings()[0]
    moved = {
        **old,
        "uid": "newUid123",
        "start": "2027-03-08T14:00:00.000Z",
        "end": "2027-03-08T14:30:00.000Z",
    }
    body, signature = calcom.fake.webhook(
        "BOOKING_RESCHEDULED", moved, secret=WEBHOOK_SECRET, rescheduleUid=old["uid"]
    )

    response = post_webhook(client, body, signature)

    appointment = Appointment.objects.all_tenants().get()
    assert response.json()["action"] == "rescheduled"
    assert appointment.start_time == at("15:00")
    assert (appointment.external_calendar_id, appointment.sync_status) == ("newUid123", "synced")


def test_webhook_for_a_booking_made_in_calcom_blocks_our_slot_until_cancelled(calcom, client):
    direct = calcom.fake.make_booking(start=at("10:00"))
    body, signature = calcom.fake.webhook("BOOKING_CREATED", direct, secret=WEBHOOK_SECRET)

    response = post_webhook(client, body, signature)

    block = CalcomBusyBlock.objects.all_tenants().get(booking_uid=direct["uid"]).time_block
    assert response.json() == {"status": "applied", "action": "blocked", "time_block_id": block.pk}
    assert (block.staff_id, block.start_time, block.end_time) == (
        calcom.world.anna.pk,
        at("10:00"),
        at("10:30"),
    )
    refused = call(calcom.world.principal, "booking.createBooking", booking_args(calcom.world))
    assert refused.error is not None
    assert Appointment.objects.all_tenants().count() == 0

    body, signature = calcom.fake.webhook("BOOKING_CANCELLED", direct, secret=WEBHOOK_SECRET)
    assert post_webhook(client, body, signature).json()["action"] == "unblocked"

    assert not TimeBlock.objects.all_tenants().exists()
    assert book(calcom.world)["appointment"]["staff_id"] == calcom.world.anna.pk


def test_webhook_echo_of_our_own_create_changes_nothing(calcom, client):
    book(calcom.world)
    ours = calcom.fake.active_bookings()[0]
    # Cal.com may announce it before our create call returned: found by our reference.
    Appointment.objects.all_tenants().update(external_calendar_id="")
    body, signature = calcom.fake.webhook("BOOKING_CREATED", ours, secret=WEBHOOK_SECRET)

    response = post_webhook(client, body, signature)

    assert response.json()["reason"] == "our own booking"
    assert not TimeBlock.objects.all_tenants().exists()


def test_webhook_of_an_unknown_tenant_or_trigger_is_acknowledged_and_ignored(calcom, client):
    stranger = calcom.fake.make_booking(start=at("10:00"), event_type_id=8)
    for trigger in ("BOOKING_CREATED", "MEETING_ENDED"):
        body, signature = calcom.fake.webhook(trigger, stranger, secret=WEBHOOK_SECRET)
        response = post_webhook(client, body, signature)
        assert (response.status_code, response.json()["status"]) == (200, "ignored")
    assert WebhookEvent.objects.count() == 0


def test_webhook_with_a_malformed_body_is_a_validation_error(calcom, client):
    from tests.fakes.calcom import sign

    for body in (b"not json", b"[]", b'{"triggerEvent": "BOOKING_CREATED"}'):
        response = post_webhook(client, body, sign(body, WEBHOOK_SECRET))
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "VALIDATION_FAILED"


def test_a_second_tenant_connected_to_calcom_keeps_its_own_bookings(calcom, fake_calcom):
    other = make_world()
    connect_calcom(other, fake_calcom, event_type_id=8)

    book(calcom.world)
    book(other)

    tenants = sorted(
        int(b["metadata"]["askproai_tenant_id"]) for b in fake_calcom.active_bookings()
    )
    assert tenants == sorted([calcom.world.tenant.pk, other.tenant.pk])
    assert {b["eventTypeId"] for b in fake_calcom.active_bookings()} == {EVENT_TYPE_ID, 8}


def test_sync_calendar_event_answers_another_tenants_appointment_as_absent(calcom):
    other = make_world()
    theirs = existing(other, other.anna, at("11:00"), sync_status=SyncStatus.PENDING)

    result = call(
        calcom.world.principal, "integration.syncCalendarEvent", {"appointment_id": theirs.pk}
    )

    assert result.error.error_type.name == "RESOURCE_NOT_FOUND"
    assert calcom.fake.requests == []
    assert Appointment.objects.all_tenants().get(pk=theirs.pk).sync_status == SyncStatus.PENDING


def test_only_managers_of_integrations_may_sync_or_replay(calcom):
    from mcp_core.permissions import Role
    from tests.bookings.test_booking_service import principal_for

    staff = principal_for(calcom.world.tenant, Role.STAFF)
    appointment = unsynced(calcom)

    for name, args in (
        ("integration.syncCalendarEvent", {"appointment_id": appointment.pk}),
        ("integration.retryFailedSync", {}),
        ("integration.checkIntegrationHealth", {}),
    ):
        assert call(staff, name, args).error.error_type.name == "PERMISSION_DENIED"
    assert calcom.fake.requests == []
