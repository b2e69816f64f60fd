"""Domain events (docs/events.md): every front door's state change writes its event in the
change's transaction; a failed change writes none; payloads carry no personal data."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.utils import timezone

from mcp_core.events import emit
from mcp_core.models import DomainEvent
from routing.calls import call_log_record
from tests.bookings.test_booking_api import Api
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    MONDAY,
    _fresh_calendar,
    _frozen_time,
    booking_args,
    make_world,
    outbox,
)

pytestmark = pytest.mark.django_db


def events(tenant) -> list[DomainEvent]:
    return list(DomainEvent.objects.for_tenant(tenant).order_by("pk"))


def run(api: Api, operation: str, args: dict):
    return api.post(f"operations/{operation}", args)


@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def api(client, world) -> Api:
    return Api(client, world)


def test_a_rest_booking_writes_booking_created_with_ids_and_times_only(api, world):
    response = api.post("bookings", booking_args(world))
    assert response.status_code == 201
    appointment_id = response.json()["appointment"]["id"]

    [event] = events(world.tenant)
    assert (event.event, event.version, event.branch_id) == ("booking.created", 1, world.branch.pk)
    assert event.data["appointment_id"] == appointment_id
    assert event.data["start_time"] == "2027-03-08T09:00:00+00:00"
    assert event.data["status"] == "confirmed"
    assert event.customer_id == event.data["customer_id"]
    text = json.dumps(event.data)
    assert "Erika" not in text and "1234567" not in text


def test_cancel_confirm_reschedule_update_each_write_their_event(api, world):
    created = api.post("bookings", booking_args(world)).json()["appointment"]["id"]
    moved = run(
        api,
        "booking.rescheduleBooking",
        {"appointment_id": created, "start_time": f"{MONDAY}T11:00:00"},
    )
    assert moved.status_code == 200, moved.content
    updated = run(api, "booking.updateBooking", {"appointment_id": created, "notes": "Allergie"})
    assert updated.status_code == 200, updated.content
    cancelled = run(api, "booking.cancelBooking", {"appointment_id": created, "reason": "krank"})
    assert cancelled.status_code == 200, cancelled.content

    names = [event.event for event in events(world.tenant)]
    assert names == [
        "booking.created",
        "booking.rescheduled",
        "booking.updated",
        "booking.cancelled",
    ]
    rescheduled, changed = events(world.tenant)[1:3]
    assert rescheduled.data["previous"]["start_time"] == "2027-03-08T09:00:00+00:00"
    assert rescheduled.data["start_time"] == "2027-03-08T10:00:00+00:00"
    assert changed.data["changed"] == ["notes"]
    assert "Allergie" not in json.dumps(changed.data)


def test_a_refused_change_writes_no_event(api, world):
    created = api.post("bookings", booking_args(world)).json()["appointment"]["id"]
    run(api, "booking.cancelBooking", {"appointment_id": created})
    again = run(api, "booking.cancelBooking", {"appointment_id": created})

    assert again.status_code == 409
    assert [e.event for e in events(world.tenant)] == ["booking.created", "booking.cancelled"]


def test_staff_time_block_and_schedule_change_write_staff_status_changed(api, world):
    blocked = run(
        api,
        "staff.blockStaffTime",
        {
            "staff_id": world.anna.pk,
            "start_time": f"{MONDAY}T12:00:00",
            "end_time": f"{MONDAY}T13:00:00",
            "kind": "absence",
        },
    )
    assert blocked.status_code == 200, blocked.content
    schedule = {"monday": [{"start": "08:00", "end": "12:00"}]}
    changed = run(
        api, "staff.updateStaffSchedule", {"staff_id": world.anna.pk, "schedule": schedule}
    )
    assert changed.status_code == 200, changed.content

    block, week = events(world.tenant)
    assert (block.event, block.branch_id) == ("staff.status_changed", world.branch.pk)
    assert block.data["change"] == "time_blocked"
    assert block.data["kind"] == "absence"
    assert block.data["start_time"] == "2027-03-08T12:00:00+01:00"
    assert (week.event, week.data["change"], week.data["staff_id"]) == (
        "staff.status_changed",
        "schedule",
        world.anna.pk,
    )


def test_events_of_one_tenant_are_not_another_tenants(api, world):
    api.post("bookings", booking_args(world))
    other = make_world()

    assert events(other.tenant) == []
    assert len(events(world.tenant)) == 1


@pytest.mark.django_db(transaction=True)
def test_emit_refuses_outside_a_transaction_and_unknown_names(world):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        emit(tenant=world.tenant, event="booking.created", data={})
    with transaction.atomic(), pytest.raises(ValueError, match="unknown domain event"):
        emit(tenant=world.tenant, event="booking.exploded", data={})


def test_queue_positions_follow_calls_beyond_the_branch_capacity(world, settings):
    settings.ROUTING_MAX_CONCURRENT_CALLS = 1
    for index in range(3):
        with transaction.atomic():
            call_log_record(
                tenant=world.tenant,
                branch=world.branch,
                event="call_started",
                call={
                    "call_id": f"call_q{index}",
                    "call_status": "ongoing",
                    "start_timestamp": int(timezone.now().timestamp() * 1000) + index,
                },
            )
    names = [(e.event, e.call_id, e.data.get("position")) for e in events(world.tenant)]
    assert names == [
        ("call.started", "call_q0", None),
        ("call.started", "call_q1", None),
        ("queue.position_updated", "call_q1", 1),
        ("call.started", "call_q2", None),
        ("queue.position_updated", "call_q1", 1),
        ("queue.position_updated", "call_q2", 2),
    ]
