"""The booking lifecycle operations, called through the orchestrator as every front door does.

Unless a test says otherwise: `now` is Monday 2027-03-01 08:00 in Berlin; one active branch in
Europe/Berlin with the default opening hours; a 30-minute service at 39 EUR; Anna (skill 5)
and Ben (skill 3) work Mon–Fri 09:00–18:00 with a break 12:30–13:00. Bookings go to the next
Monday, 2027-03-08 (CET, +01:00).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection

from bookings import calendar, notifications
from bookings.enums import AppointmentStatus, SyncStatus
from bookings.models import Appointment, Customer
from bookings.services import customers as services
from mcp_core import outbox as side_effects_outbox
from mcp_core.auth import Principal
from mcp_core.models import AuditLog, OutboxMessage, OutboxStatus, SagaRun, SagaStatus
from mcp_core.permissions import Role
from tenants.enums import Plan
from tenants.models import Company
from tests.factories import (
    AppointmentFactory,
    BranchFactory,
    CompanyFactory,
    CustomerFactory,
    ServiceFactory,
    StaffFactory,
    StaffServiceFactory,
    WorkingHoursFactory,
)
from tests.operations import failed, ok, principal_for

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2027, 3, 1, 8, 0, tzinfo=BERLIN)
MONDAY = "2027-03-08"
CONFIRMATION = re.compile(r"^[ACDEFHJKMNPRTUVWXY34679]{3}-[ACDEFHJKMNPRTUVWXY34679]{3}$")


# ----------------------------------------------------------------------------------- helpers


@dataclass
class World:
    tenant: Company
    branch: Any
    service: Any
    anna: Any
    ben: Any
    principal: Principal


def make_staff(branch, service, name: str, *, skill: int = 3):
    member = StaffFactory(branch=branch, tenant=branch.tenant, name=name)
    StaffServiceFactory(staff=member, service=service, skill_level=skill)
    for weekday in range(5):
        WorkingHoursFactory(staff=member, weekday=weekday)
    return member


def make_world(plan: str = Plan.PROFESSIONAL, tz: str = "Europe/Berlin") -> World:
    tenant = CompanyFactory(name="Salon Sonnenschein", subscription__plan=plan)
    branch = BranchFactory(tenant=tenant, name="Berlin Mitte", time_zone=tz)
    service = ServiceFactory(
        tenant=tenant, name="Damenhaarschnitt", duration_minutes=30, price=Decimal("39.00")
    )
    anna = make_staff(branch, service, "Anna", skill=5)
    ben = make_staff(branch, service, "Ben", skill=3)
    return World(tenant, branch, service, anna, ben, principal_for(tenant))


def at(hh_mm: str, day: str = MONDAY, zone: ZoneInfo = BERLIN) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hh_mm}").replace(tzinfo=zone)


def booking_args(world: World, **overrides: Any) -> dict[str, Any]:
    args = {
        "service_id": world.service.pk,
        "branch_id": world.branch.pk,
        "start_time": f"{MONDAY}T10:00:00",
        "staff_id": world.anna.pk,
        "customer_phone": "030 1234567",
        "customer_name": "Erika Mustermann",
    }
    args.update(overrides)
    return {key: value for key, value in args.items() if value is not None}


def book(world: World, **overrides: Any) -> dict[str, Any]:
    return ok(world.principal, "booking.createBooking", booking_args(world, **overrides))


def existing(world: World, staff, start: dt.datetime, minutes: int = 30, **kwargs) -> Appointment:
    return AppointmentFactory(
        tenant=world.tenant,
        staff=staff,
        branch=world.branch,
        service=world.service,
        start_time=start,
        end_time=start + dt.timedelta(minutes=minutes),
        **kwargs,
    )


def actions(appointment_id: int) -> list[str]:
    return list(
        AuditLog.objects.all_tenants()
        .filter(object_type="bookings.appointment", object_id=str(appointment_id))
        .order_by("created_at", "pk")
        .values_list("action", flat=True)
    )


def nothing_written() -> None:
    assert Appointment.objects.all_tenants().count() == 0
    assert Customer.objects.all_tenants().count() == 0
    assert SagaRun.objects.all_tenants().count() == 0


@pytest.fixture(autouse=True)
def _frozen_time():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture(autouse=True)
def outbox() -> list[notifications.SentMessage]:
    notifications.sent_messages.clear()
    return notifications.sent_messages


@pytest.fixture(autouse=True)
def _fresh_calendar():
    calendar.reset_backends()
    yield
    calendar.reset_backends()


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def memory_calendar(settings) -> calendar.InMemoryCalendar:
    settings.CALENDAR_BACKEND = "memory"
    backend = calendar.get_calendar_backend()
    assert isinstance(backend, calendar.InMemoryCalendar)
    return backend


@pytest.fixture
def queued_deliveries(monkeypatch) -> list[tuple[int, float]]:
    """Outbox delivery tasks sent (message id, countdown); task queueing is the process edge."""
    queued: list[tuple[int, float]] = []
    monkeypatch.setattr(
        side_effects_outbox,
        "schedule",
        lambda message_id, countdown=0.0: queued.append((message_id, countdown)),
    )
    return queued


def calendar_messages(appointment_id: int) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.all_tenants()
        .filter(topic="calendar.sync", payload__appointment_id=appointment_id)
        .order_by("pk")
    )


# ----------------------------------------------------------------------------- createBooking


def test_create_books_the_slot_and_answers_with_the_contract_shape(world, outbox):
    data = book(world, notes="Erstbesuch")

    appointment = Appointment.objects.all_tenants().get()
    customer = Customer.objects.all_tenants().get()
    assert CONFIRMATION.match(appointment.confirmation_number)
    assert data == {
        "appointment": {
            "id": appointment.pk,
            "confirmation_number": appointment.confirmation_number,
            "status": "confirmed",
            "start_time": "2027-03-08T10:00:00+01:00",
            "end_time": "2027-03-08T10:30:00+01:00",
            "branch_id": world.branch.pk,
            "service_id": world.service.pk,
            "staff_id": world.anna.pk,
            "customer_id": customer.pk,
            "sync_status": "not_required",
        },
        "confirmation_number": appointment.confirmation_number,
        "notifications_sent": ["sms"],
    }
    assert appointment.start_time == at("10:00")
    assert appointment.end_time == at("10:30")
    assert (appointment.occupied_start, appointment.occupied_end) == (at("10:00"), at("10:30"))
    assert appointment.source == "mcp"
    assert appointment.price == Decimal("39.00")
    assert appointment.notes == "Erstbesuch"
    assert appointment.idempotency_key is None
    assert (customer.phone, customer.name) == ("+49301234567", "Erika Mustermann")
    assert actions(appointment.pk) == ["appointment.created", "appointment.notified"]
    assert [(m.channel, m.to, m.body) for m in outbox] == [
        (
            "sms",
            "+49301234567",
            "Termin bestätigt: Damenhaarschnitt am Mo. 08.03.2027 um 10:00 Uhr bei Berlin "
            f"Mitte. Bestätigungs-Nr: {appointment.confirmation_number}",
        )
    ]
    run = SagaRun.objects.all_tenants().get()
    assert (run.name, run.status) == ("booking.create", SagaStatus.COMPLETED)


def test_national_phone_number_becomes_an_e164_customer_found_again_later(world):
    first = book(world, customer_phone="030 1234567")
    second = book(world, customer_phone="+49 30 1234567", start_time=f"{MONDAY}T11:00:00")

    customer = Customer.objects.all_tenants().get()
    assert customer.phone == "+49301234567"
    assert (
        first["appointment"]["customer_id"] == second["appointment"]["customer_id"] == customer.pk
    )


def test_an_existing_customer_by_id_keeps_their_data_and_gets_a_missing_name(world):
    customer = CustomerFactory(tenant=world.tenant, phone="+4915112345678", name="")

    data = book(world, customer_phone=None, customer_id=customer.pk, customer_name="Max")

    customer.refresh_from_db()
    assert data["appointment"]["customer_id"] == customer.pk
    assert (customer.phone, customer.name) == ("+4915112345678", "Max")
    assert Customer.objects.all_tenants().count() == 1


def test_naive_start_is_read_in_the_branch_zone():
    world = make_world(tz="Europe/London")

    data = book(world, start_time=f"{MONDAY}T10:00:00")

    assert data["appointment"]["start_time"] == "2027-03-08T10:00:00+00:00"
    assert Appointment.objects.all_tenants().get().start_time == at(
        "10:00", zone=ZoneInfo("Europe/London")
    )


def test_start_with_an_offset_is_that_instant_shown_in_branch_time(world):
    data = book(world, start_time=f"{MONDAY}T09:00:00Z")

    assert data["appointment"]["start_time"] == "2027-03-08T10:00:00+01:00"


def test_duration_overrides_the_service_length(world):
    data = book(world, duration=45)

    assert data["appointment"]["end_time"] == "2027-03-08T10:45:00+01:00"


def test_buffers_widen_the_occupied_time(world):
    world.service.buffer_before_minutes, world.service.buffer_after_minutes = 5, 10
    world.service.save()

    book(world)

    appointment = Appointment.objects.all_tenants().get()
    assert (appointment.occupied_start, appointment.occupied_end) == (at("09:55"), at("10:40"))


def test_without_staff_the_best_qualified_free_staff_member_is_chosen(world):
    assert book(world, staff_id=None)["appointment"]["staff_id"] == world.anna.pk

    assert book(world, staff_id=None)["appointment"]["staff_id"] == world.ben.pk
    assert failed(world.principal, "booking.createBooking", booking_args(world, staff_id=None))[
        0
    ] == ("CONFLICT")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"service_id": None}, "service_id"),
        ({"start_time": MONDAY}, "start_time"),
        ({"start_time": "1804345200"}, "start_time"),
        ({"start_time": "08.03.2027 10:00"}, "start_time"),
        ({"duration": 10}, "duration"),
        ({"duration": 481}, "duration"),
        ({"customer_phone": "12"}, "customer_phone"),
        ({"customer_phone": None}, "customer_phone"),
        ({"customer_id": 1}, "customer_phone"),
        ({"customer_email": "not-an-address"}, "customer_email"),
        ({"notes": "x" * 2001}, "notes"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"colour": "blue"}, "colour"),
        ({"start_time": "2027-02-26T10:00:00"}, "start_time"),
        ({"start_time": f"{MONDAY}T07:00:00"}, "start_time"),
        ({"start_time": f"{MONDAY}T12:30:00"}, "start_time"),
        ({"start_time": "2027-03-07T10:00:00"}, "start_time"),
        ({"start_time": "2027-06-07T10:00:00"}, "start_time"),
        ({"start_time": "2027-06-07T10:00:00", "staff_id": None}, "start_time"),
    ],
)
def test_invalid_requests_are_refused_field_by_field_with_nothing_written(
    world, overrides, field, outbox
):
    error_type, details = failed(
        world.principal, "booking.createBooking", booking_args(world, **overrides)
    )

    assert error_type == "VALIDATION_FAILED"
    assert field in details, details
    nothing_written()
    assert outbox == []


def test_staff_of_another_branch_is_refused_on_staff_id(world):
    other_branch = BranchFactory(tenant=world.tenant, name="Hamburg")
    stranger = make_staff(other_branch, world.service, "Carla")

    error_type, details = failed(
        world.principal, "booking.createBooking", booking_args(world, staff_id=stranger.pk)
    )

    assert (error_type, list(details)) == ("VALIDATION_FAILED", ["staff_id"])
    nothing_written()


@pytest.mark.parametrize("field", ["service_id", "branch_id", "staff_id", "customer_id"])
def test_ids_of_another_tenant_are_not_found(world, field):
    other = make_world()
    foreign = {
        "service_id": other.service.pk,
        "branch_id": other.branch.pk,
        "staff_id": other.anna.pk,
        "customer_id": CustomerFactory(tenant=other.tenant).pk,
    }[field]
    args = booking_args(world, **{field: foreign})
    if field == "customer_id":
        args.pop("customer_phone")

    error_type, details = failed(world.principal, "booking.createBooking", args)

    assert (error_type, details) == ("RESOURCE_NOT_FOUND", {field: foreign})
    assert Appointment.objects.all_tenants().count() == 0


def test_taken_slot_is_a_conflict_with_the_next_free_slots_of_that_staff_member(world):
    existing(world, world.anna, at("10:00"))

    error_type, details = failed(world.principal, "booking.createBooking", booking_args(world))

    assert error_type == "CONFLICT"
    assert details == {
        "staff_id": world.anna.pk,
        "start_time": "2027-03-08T10:00:00+01:00",
        "next_available": [
            {
                "start": f"2027-03-08T{hh_mm}:00+01:00",
                "end": f"2027-03-08T{end}:00+01:00",
                "staff_id": world.anna.pk,
                "branch_id": world.branch.pk,
            }
            for hh_mm, end in [("10:30", "11:00"), ("11:00", "11:30"), ("11:30", "12:00")]
        ],
    }
    assert Appointment.objects.all_tenants().count() == 1
    assert Customer.objects.all_tenants().count() == 1  # the existing appointment's


def test_the_reserve_step_itself_refuses_an_overlap_the_checks_did_not_see(world, monkeypatch):
    """What a lost race looks like: the availability check passed, the insert is refused (the
    exclusion constraint on PostgreSQL, the overlap query under the write lock on SQLite)."""
    book(world)
    monkeypatch.setattr("bookings.availability.check_bookable", lambda **kwargs: None)

    error_type, details = failed(
        world.principal, "booking.createBooking", booking_args(world, start_time=f"{MONDAY}T10:15")
    )

    assert error_type == "CONFLICT"
    assert details["staff_id"] == world.anna.pk
    assert [slot["start"] for slot in details["next_available"]] == [
        "2027-03-08T10:30:00+01:00",
        "2027-03-08T11:00:00+01:00",
        "2027-03-08T11:30:00+01:00",
    ]
    assert Appointment.objects.all_tenants().filter(status="confirmed").count() == 1
    # The refused reserve step (atomic) took its run with it: only the first booking's run.
    assert list(SagaRun.objects.all_tenants().values_list("status", flat=True)) == [
        SagaStatus.COMPLETED
    ]


def test_auto_assignment_falls_back_to_the_next_candidate_when_the_first_was_taken(
    world, monkeypatch
):
    existing(world, world.anna, at("10:00"))
    monkeypatch.setattr(
        "bookings.availability.find_available_staff", lambda **kwargs: [world.anna, world.ben]
    )

    data = book(world, staff_id=None)

    assert data["appointment"]["staff_id"] == world.ben.pk


def test_a_confirmation_number_already_taken_is_drawn_again(world, monkeypatch):
    taken = existing(world, world.ben, at("15:00"), confirmation_number="K7M-4RT")
    numbers = iter([taken.confirmation_number, "X9P-3HW"])
    monkeypatch.setattr("bookings.services.reserve.new_confirmation_number", lambda: next(numbers))

    data = book(world)

    assert data["confirmation_number"] == "X9P-3HW"
    assert Appointment.objects.all_tenants().count() == 2


def test_monthly_quota_of_the_basic_plan_is_enforced_before_anything_is_written(outbox):
    world = make_world(plan=Plan.BASIC)
    customer = CustomerFactory(tenant=world.tenant)
    for index in range(500):
        existing(
            world,
            world.ben,
            at("09:00", day="2027-04-01") + dt.timedelta(minutes=30 * index),
            customer=customer,
            status=AppointmentStatus.CANCELLED,
        )

    error_type, details = failed(world.principal, "booking.createBooking", booking_args(world))

    assert (error_type, details) == (
        "TENANT_QUOTA_EXCEEDED",
        {"quota": "monthly_bookings", "plan": "basic", "limit": 500, "used": 500},
    )
    assert Appointment.objects.all_tenants().count() == 500
    assert not Appointment.objects.all_tenants().filter(staff=world.anna).exists()
    assert Customer.objects.all_tenants().count() == 1
    assert outbox == []


def test_quota_counts_this_calendar_month_only():
    world = make_world(plan=Plan.BASIC)
    customer = CustomerFactory(tenant=world.tenant)
    with time_machine.travel(dt.datetime(2027, 2, 27, 12, 0, tzinfo=BERLIN), tick=False):
        for index in range(500):
            existing(
                world,
                world.ben,
                at("09:00", day="2027-04-01") + dt.timedelta(minutes=30 * index),
                customer=customer,
                status=AppointmentStatus.CANCELLED,
            )

    assert book(world)["appointment"]["status"] == "confirmed"


def test_idempotency_key_replays_the_first_result_and_books_nothing_new(world, outbox):
    first = book(world, idempotency_key="call-42")

    again = book(world, idempotency_key="call-42")

    assert again == first
    assert Appointment.objects.all_tenants().count() == 1
    assert len(outbox) == 1
    assert Appointment.objects.all_tenants().get().idempotency_key == "call-42"


def test_idempotency_key_with_other_arguments_is_a_conflict(world):
    book(world, idempotency_key="call-42")

    error_type, details = failed(
        world.principal,
        "booking.createBooking",
        booking_args(world, idempotency_key="call-42", start_time=f"{MONDAY}T11:00:00"),
    )

    assert error_type == "CONFLICT"
    assert list(details) == ["idempotency_key"]
    assert Appointment.objects.all_tenants().count() == 1


def test_idempotency_keys_are_per_tenant(world):
    other = make_world()
    first = book(world, idempotency_key="call-42")

    second = book(other, idempotency_key="call-42")

    assert second["appointment"]["id"] != first["appointment"]["id"]


def test_a_key_whose_first_booking_failed_can_be_used_again(world):
    existing_row = existing(world, world.anna, at("10:00"))
    assert failed(
        world.principal, "booking.createBooking", booking_args(world, idempotency_key="k")
    )[0] == ("CONFLICT")
    existing_row.status = AppointmentStatus.CANCELLED
    existing_row.save()

    assert book(world, idempotency_key="k")["appointment"]["status"] == "confirmed"


@pytest.mark.parametrize(
    ("front_door", "source"),
    [("mcp", "mcp"), ("api", "api"), ("cli", "admin"), ("admin", "admin"), ("phone", "phone")],
)
def test_source_follows_the_front_door(world, front_door, source):
    ok(world.principal, "booking.createBooking", booking_args(world), source=front_door)

    assert Appointment.objects.all_tenants().get().source == source


def test_customer_get_or_create_by_phone_normalises_and_fills_in(world):
    created = services.customer_get_or_create_by_phone(
        tenant=world.tenant, actor="test", phone="030 1234567"
    )
    found = services.customer_get_or_create_by_phone(
        tenant=world.tenant, actor="test", phone="+49 (30) 123 45 67", name="Erika", email="e@x.de"
    )
    again = services.customer_get_or_create_by_phone(
        tenant=world.tenant, actor="test", phone="030 1234567", name="Someone else"
    )

    assert created.pk == found.pk == again.pk
    assert (again.phone, again.name, again.email) == ("+49301234567", "Erika", "e@x.de")
    assert list(AuditLog.objects.all_tenants().order_by("pk").values_list("action", flat=True)) == [
        "customer.created",
        "customer.updated",
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"phone": "12"}, "phone"), ({"email": "nope"}, "email")]
)
def test_customer_get_or_create_by_phone_refuses_bad_input(world, kwargs, field):
    with pytest.raises(services.ValidationFailed) as raised:
        services.customer_get_or_create_by_phone(
            tenant=world.tenant, actor="test", **{"phone": "030 1234567", **kwargs}
        )

    assert list(raised.value.details) == [field]
    assert Customer.objects.all_tenants().count() == 0


# ------------------------------------------------------------------ calendar and notifications


def test_calendar_backend_gets_the_event_and_the_booking_is_synced(world, memory_calendar):
    data = book(world)

    appointment = Appointment.objects.all_tenants().get()
    assert data["appointment"]["sync_status"] == "synced"
    assert appointment.sync_status == SyncStatus.SYNCED
    event = memory_calendar.events[appointment.external_calendar_id]
    assert (event.uid, event.start, event.staff_name) == (
        appointment.confirmation_number,
        at("10:00"),
        "Anna",
    )


def test_calendar_outage_keeps_the_booking_pending_and_queues_a_retry(
    world, memory_calendar, queued_deliveries, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a broker: the outbox schedules its retry
    memory_calendar.fail_with = ConnectionError("cal.com unreachable")

    with django_capture_on_commit_callbacks(execute=True):
        data = book(world)

    appointment = Appointment.objects.all_tenants().get()
    assert data["appointment"]["status"] == "confirmed"
    assert data["appointment"]["sync_status"] == "pending"
    assert appointment.sync_status == SyncStatus.PENDING
    assert data["notifications_sent"] == ["sms"]
    [message] = calendar_messages(appointment.pk)
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert "cal.com unreachable" in message.last_error
    # The saga claimed the message for its inline try, so no task was sent on commit: only
    # the back-off retry after that try failed.
    [(queued, retry_delay)] = queued_deliveries
    assert queued == message.pk
    assert settings.MCP_RETRY_BACKOFF_BASE / 2 <= retry_delay <= settings.MCP_RETRY_BACKOFF_BASE
    assert actions(appointment.pk) == [
        "appointment.created",
        "calendar_sync.failed",
        "appointment.notified",
    ]


def test_retry_task_syncs_once_the_calendar_is_back(world, memory_calendar, queued_deliveries):
    from mcp_core.outbox import deliver_outbox_message

    memory_calendar.fail_with = ConnectionError("down")
    book(world)
    appointment = Appointment.objects.all_tenants().get()
    [message] = calendar_messages(appointment.pk)
    memory_calendar.fail_with = None

    # Not due yet: the back-off holds it back.
    assert deliver_outbox_message.apply(args=(message.pk,)).get() == "pending"
    assert Appointment.objects.all_tenants().get().sync_status == SyncStatus.PENDING
    OutboxMessage.objects.all_tenants().filter(pk=message.pk).update(next_attempt_at=NOW)
    assert deliver_outbox_message.apply(args=(message.pk,)).get() == "delivered"

    appointment.refresh_from_db()
    assert appointment.sync_status == SyncStatus.SYNCED
    assert appointment.external_calendar_id in memory_calendar.events
    assert len(memory_calendar.events) == 1


def test_retries_give_up_after_the_last_retry_and_tell_operations(
    world, memory_calendar, queued_deliveries, settings, caplog
):
    memory_calendar.fail_with = ConnectionError("down")
    book(world)
    appointment = Appointment.objects.all_tenants().get()
    [message] = calendar_messages(appointment.pk)

    for _ in range(settings.MCP_MAX_RETRIES - 1):  # the first attempt was the inline one
        OutboxMessage.objects.all_tenants().filter(pk=message.pk).update(next_attempt_at=NOW)
        assert side_effects_outbox.deliver(message.pk).status == "pending"
    OutboxMessage.objects.all_tenants().filter(pk=message.pk).update(next_attempt_at=NOW)
    delivery = side_effects_outbox.deliver(message.pk)

    appointment.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("dead", settings.MCP_MAX_RETRIES + 1)
    assert appointment.sync_status == SyncStatus.FAILED
    assert actions(appointment.pk)[-1] == "calendar_sync.gave_up"
    assert "failed for good" in caplog.text
    assert "dead-lettered" in caplog.text


def test_retries_back_off_exponentially_with_jitter(settings):
    settings.MCP_RETRY_BACKOFF_BASE, settings.MCP_RETRY_BACKOFF_MAX = 60, 400
    for attempt, ceiling in ((1, 60), (2, 120), (3, 240), (4, 400), (9, 400)):
        delays = {side_effects_outbox.backoff_seconds(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1  # jittered


def test_cancelling_a_synced_booking_cancels_the_calendar_event(
    world, memory_calendar, django_capture_on_commit_callbacks
):
    data = book(world)
    external_id = Appointment.objects.all_tenants().get().external_calendar_id

    with django_capture_on_commit_callbacks(execute=True):
        ok(world.principal, "booking.cancelBooking", {"appointment_id": data["appointment"]["id"]})

    assert external_id in memory_calendar.cancelled
    assert Appointment.objects.all_tenants().get().sync_status == SyncStatus.SYNCED
    assert [m.status for m in calendar_messages(data["appointment"]["id"])] == [
        "delivered",
        "delivered",
    ]


def test_email_confirmation_when_the_customer_gave_an_address(world, outbox):
    data = book(world, customer_email="erika@example.de")

    assert data["notifications_sent"] == ["email"]
    assert outbox == []
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["erika@example.de"], f"Terminbestätigung {data['confirmation_number']}")
    ]
    assert "Mo. 08.03.2027 um 10:00 Uhr" in mail.outbox[0].body


def test_failed_email_is_recorded_and_falls_back_to_sms(world, outbox, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("smtp down")

    monkeypatch.setattr("bookings.notifications.delivery.send_mail", refuse)

    data = book(world, customer_email="erika@example.de")

    appointment_id = data["appointment"]["id"]
    assert data["notifications_sent"] == ["sms"]
    assert len(outbox) == 1
    failure = AuditLog.objects.all_tenants().get(action="notification.failed")
    assert (failure.object_id, failure.changes["channel"], failure.changes["fallback"]) == (
        str(appointment_id),
        "email",
        "sms",
    )
    assert "smtp down" in failure.changes["error"]


def test_failed_sms_is_recorded_and_the_booking_still_stands(world, outbox, monkeypatch):
    def refuse(self, to, body):
        raise TimeoutError("gateway timeout")

    monkeypatch.setattr(notifications.ConsoleSms, "send", refuse)

    data = book(world)

    assert data["appointment"]["status"] == "confirmed"
    assert data["notifications_sent"] == []
    assert list(
        AuditLog.objects.all_tenants()
        .filter(action="notification.failed")
        .values_list("changes__channel", flat=True)
    ) == ["sms"]


def test_unexpected_failure_after_reserving_rolls_forward_and_the_booking_stands(
    world, memory_calendar, monkeypatch, outbox
):
    def broken(**kwargs):
        raise RuntimeError("bug in the notification step")

    monkeypatch.setattr("bookings.services.reserve.booking_notification_deliver", broken)

    data = book(world)

    appointment = Appointment.objects.for_tenant(world.tenant).get()
    run = SagaRun.objects.for_tenant(world.tenant).get()
    assert (data["appointment"]["id"], data["appointment"]["status"]) == (
        appointment.pk,
        "confirmed",
    )
    assert data["confirmation_number"] == appointment.confirmation_number
    assert data["notifications_sent"] == []
    assert appointment.sync_status == SyncStatus.SYNCED
    assert run.status == SagaStatus.COMPLETED
    assert [(s["name"], s["status"], s["result"]) for s in run.steps] == [
        ("reserve", "done", run.context["results"]["reserve"]),
        ("calendar_sync", "done", {"sync_status": "synced"}),
        ("notifications", "failed", {"failed": "RuntimeError"}),
    ]
    assert (
        not AuditLog.objects.for_tenant(world.tenant)
        .filter(action="appointment.creation_undone")
        .exists()
    )
    # The confirmation stays owed to the outbox: claimed by the step, taken up when its lease
    # runs out.
    message = OutboxMessage.objects.for_tenant(world.tenant).get(topic="notification.booking")
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert outbox == []


# ------------------------------------------------------------------------- status machine


def test_cancel_frees_the_slot(world):
    appointment_id = book(world)["appointment"]["id"]

    data = ok(
        world.principal,
        "booking.cancelBooking",
        {"appointment_id": appointment_id, "reason": "Kundin ist krank"},
    )

    assert data["appointment"]["status"] == "cancelled"
    appointment = Appointment.objects.all_tenants().get()
    assert appointment.cancellation_reason == "Kundin ist krank"
    assert appointment.cancelled_at is not None
    assert actions(appointment_id)[-1] == "appointment.cancelled"
    assert book(world)["appointment"]["staff_id"] == world.anna.pk


@pytest.mark.parametrize(
    ("status", "operation", "error"),
    [
        ("cancelled", "booking.cancelBooking", "CONFLICT"),
        ("completed", "booking.cancelBooking", "CONFLICT"),
        ("no_show", "booking.cancelBooking", "CONFLICT"),
        ("confirmed", "booking.confirmBooking", "CONFLICT"),
        ("cancelled", "booking.confirmBooking", "CONFLICT"),
    ],
)
def test_illegal_status_changes_are_conflicts_and_change_nothing(world, status, operation, error):
    appointment = existing(world, world.anna, at("10:00"), status=status)

    error_type, details = failed(world.principal, operation, {"appointment_id": appointment.pk})

    assert (error_type, details) == (error, {"status": status})
    appointment.refresh_from_db()
    assert appointment.status == status


def test_confirm_turns_pending_into_confirmed(world):
    appointment = existing(world, world.anna, at("10:00"), status=AppointmentStatus.PENDING)

    data = ok(world.principal, "booking.confirmBooking", {"appointment_id": appointment.pk})

    appointment.refresh_from_db()
    assert data["appointment"]["status"] == "confirmed"
    assert appointment.confirmed_at is not None
    assert actions(appointment.pk) == ["appointment.confirmed"]


# ------------------------------------------------------------------------------ reschedule


def test_reschedule_moves_the_appointment_and_keeps_its_number(world):
    created = book(world)
    appointment_id = created["appointment"]["id"]

    data = ok(
        world.principal,
        "booking.rescheduleBooking",
        {
            "appointment_id": appointment_id,
            "start_time": "2027-03-09T15:00",
            "staff_id": world.ben.pk,
        },
    )

    assert data["appointment"] == {
        **created["appointment"],
        "start_time": "2027-03-09T15:00:00+01:00",
        "end_time": "2027-03-09T15:30:00+01:00",
        "staff_id": world.ben.pk,
    }
    row = AuditLog.objects.all_tenants().get(action="appointment.rescheduled")
    assert row.changes == {
        "start_time": ["2027-03-08T09:00:00+00:00", "2027-03-09T14:00:00+00:00"],
        "end_time": ["2027-03-08T09:30:00+00:00", "2027-03-09T14:30:00+00:00"],
        "staff_id": [world.anna.pk, world.ben.pk],
    }


def test_reschedule_to_a_taken_slot_is_a_conflict_and_changes_nothing(world):
    appointment_id = book(world)["appointment"]["id"]
    existing(world, world.anna, at("14:00"))

    error_type, details = failed(
        world.principal,
        "booking.rescheduleBooking",
        {"appointment_id": appointment_id, "start_time": f"{MONDAY}T14:15"},
    )

    assert error_type == "CONFLICT"
    assert details["next_available"][0]["start"] == "2027-03-08T14:30:00+01:00"
    appointment = Appointment.objects.all_tenants().get(pk=appointment_id)
    assert (appointment.start_time, appointment.staff_id) == (at("10:00"), world.anna.pk)


def test_reschedule_that_loses_a_race_at_the_database_is_a_conflict(world, monkeypatch):
    appointment_id = book(world)["appointment"]["id"]
    existing(world, world.anna, at("14:00"))
    monkeypatch.setattr("bookings.availability.check_bookable", lambda **kwargs: None)

    error_type, details = failed(
        world.principal,
        "booking.rescheduleBooking",
        {"appointment_id": appointment_id, "start_time": f"{MONDAY}T14:15"},
    )

    assert error_type == "CONFLICT"
    assert details["next_available"][0]["start"] == "2027-03-08T14:30:00+01:00"
    assert Appointment.objects.all_tenants().get(pk=appointment_id).start_time == at("10:00")


def test_reschedule_within_its_own_time_is_allowed(world):
    appointment_id = book(world)["appointment"]["id"]

    data = ok(
        world.principal,
        "booking.rescheduleBooking",
        {"appointment_id": appointment_id, "start_time": f"{MONDAY}T10:15"},
    )

    assert data["appointment"]["start_time"] == "2027-03-08T10:15:00+01:00"


def test_reschedule_refuses_staff_of_another_branch_and_cancelled_appointments(world):
    other_branch = BranchFactory(tenant=world.tenant, name="Hamburg")
    stranger = make_staff(other_branch, world.service, "Carla")
    appointment_id = book(world)["appointment"]["id"]
    args = {"appointment_id": appointment_id, "start_time": f"{MONDAY}T15:00"}

    assert failed(world.principal, "booking.rescheduleBooking", {**args, "staff_id": stranger.pk})[
        0
    ] == ("VALIDATION_FAILED")
    ok(world.principal, "booking.cancelBooking", {"appointment_id": appointment_id})
    assert failed(world.principal, "booking.rescheduleBooking", args) == (
        "CONFLICT",
        {"status": "cancelled"},
    )


# ------------------------------------------------------------------------------ update


def test_update_changes_notes_duration_and_the_customer(world):
    appointment_id = book(world)["appointment"]["id"]

    data = ok(
        world.principal,
        "booking.updateBooking",
        {
            "appointment_id": appointment_id,
            "notes": "Allergie gegen Duftstoffe",
            "duration": 60,
            "customer_name": "Erika Musterfrau",
            "customer_email": "erika@example.de",
        },
    )

    assert data["appointment"]["end_time"] == "2027-03-08T11:00:00+01:00"
    appointment = Appointment.objects.all_tenants().select_related("customer").get()
    assert appointment.notes == "Allergie gegen Duftstoffe"
    assert appointment.occupied_end == at("11:00")
    assert (appointment.customer.name, appointment.customer.email) == (
        "Erika Musterfrau",
        "erika@example.de",
    )
    assert AuditLog.objects.all_tenants().get(action="appointment.updated").changes == {
        "notes": ["", "Allergie gegen Duftstoffe"],
        "duration": [30, 60],
        "customer_name": ["Erika Mustermann", "Erika Musterfrau"],
        "customer_email": ["", "erika@example.de"],
    }


def test_update_to_an_overlapping_duration_is_a_conflict_and_changes_nothing(world):
    appointment_id = book(world)["appointment"]["id"]
    existing(world, world.anna, at("10:30"))

    error_type, _ = failed(
        world.principal, "booking.updateBooking", {"appointment_id": appointment_id, "duration": 45}
    )

    assert error_type == "CONFLICT"
    assert Appointment.objects.all_tenants().get(pk=appointment_id).end_time == at("10:30")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"notes": None}, "notes"),
        ({"duration": 5}, "duration"),
        ({"duration": 600}, "duration"),
        ({"customer_email": "nope"}, "customer_email"),
        ({"start_time": f"{MONDAY}T11:00"}, "start_time"),
    ],
)
def test_update_refuses_invalid_fields(world, args, field):
    appointment_id = book(world)["appointment"]["id"]

    error_type, details = failed(
        world.principal, "booking.updateBooking", {"appointment_id": appointment_id, **args}
    )

    assert (error_type, list(details)) == ("VALIDATION_FAILED", [field])
    assert not AuditLog.objects.all_tenants().filter(action="appointment.updated").exists()


def test_update_duration_past_working_hours_is_refused_on_duration(world):
    appointment_id = book(world, start_time=f"{MONDAY}T17:30")["appointment"]["id"]

    error_type, details = failed(
        world.principal, "booking.updateBooking", {"appointment_id": appointment_id, "duration": 60}
    )

    assert (error_type, list(details)) == ("VALIDATION_FAILED", ["duration"])


# ------------------------------------------------------------------------------ reads


def test_booking_details_with_names_price_and_history(world):
    created = book(world, notes="Erstbesuch")
    appointment_id = created["appointment"]["id"]
    ok(world.principal, "booking.cancelBooking", {"appointment_id": appointment_id})

    data = ok(world.principal, "booking.getBookingDetails", {"appointment_id": appointment_id})

    assert data["appointment"] == {**created["appointment"], "status": "cancelled"}
    assert data["customer"] == {
        "id": created["appointment"]["customer_id"],
        "name": "Erika Mustermann",
        "phone": "+49301234567",
        "email": "",
    }
    assert data["service"] == {"id": world.service.pk, "name": "Damenhaarschnitt"}
    assert data["staff"] == {"id": world.anna.pk, "name": "Anna"}
    assert data["branch"] == {"id": world.branch.pk, "name": "Berlin Mitte"}
    assert (data["duration"], data["price"], data["notes"], data["source"]) == (
        30,
        "39.00",
        "Erstbesuch",
        "mcp",
    )
    assert [entry["action"] for entry in data["history"]] == [
        "appointment.created",
        "appointment.notified",
        "appointment.cancelled",
    ]
    assert {entry["actor"] for entry in data["history"]} == {world.principal.actor}


def test_list_filters_by_local_day_status_staff_and_customer(world):
    late = existing(world, world.anna, at("23:30", day="2027-03-07"))  # Sunday night local
    monday = existing(world, world.anna, at("00:15"), status=AppointmentStatus.CANCELLED)
    ben = existing(world, world.ben, at("10:00"))
    existing(world, world.ben, at("10:00", day="2027-03-09"))

    def ids(**filters: Any) -> list[int]:
        data = ok(world.principal, "booking.listBookings", filters)
        return [row["id"] for row in data["bookings"]]

    assert ids(date=MONDAY) == [monday.pk, ben.pk]
    assert ids(date="2027-03-07") == [late.pk]
    assert ids(date_from="2027-03-07", date_to=MONDAY) == [late.pk, monday.pk, ben.pk]
    assert ids(date=MONDAY, status="confirmed") == [ben.pk]
    assert ids(staff_id=world.anna.pk) == [late.pk, monday.pk]
    assert ids(customer_id=ben.customer_id) == [ben.pk]
    assert ids(branch_id=world.branch.pk, date_from="2027-03-09") == [
        Appointment.objects.all_tenants().get(start_time__date="2027-03-09").pk
    ]


def test_list_is_paginated(world):
    for index in range(5):
        existing(world, world.anna, at("09:00") + dt.timedelta(hours=index))

    first = ok(world.principal, "booking.listBookings", {"page_size": 2})
    last = ok(world.principal, "booking.listBookings", {"page_size": 2, "page": 3})

    assert (len(first["bookings"]), first["count"], first["page"], first["next_page"]) == (
        2,
        5,
        1,
        2,
    )
    assert (len(last["bookings"]), last["next_page"]) == (1, None)
    assert first["bookings"][0]["start_time"] == "2027-03-08T09:00:00+01:00"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page": 0}, "page"),
        ({"status": "done"}, "status"),
        ({"date": "08.03.2027"}, "date"),
        ({"date": MONDAY, "date_from": MONDAY}, "date_from"),
        ({"date_from": "2027-03-09", "date_to": MONDAY}, "date_to"),
    ],
)
def test_list_refuses_invalid_filters(world, args, field):
    error_type, details = failed(world.principal, "booking.listBookings", args)

    assert (error_type, list(details)) == ("VALIDATION_FAILED", [field])


def test_another_tenants_appointment_is_not_found_by_any_operation(world):
    other = make_world()
    foreign = existing(other, other.anna, at("10:00"))

    for name, args in [
        ("booking.getBookingDetails", {}),
        ("booking.cancelBooking", {}),
        ("booking.confirmBooking", {}),
        ("booking.rescheduleBooking", {"start_time": f"{MONDAY}T11:00"}),
        ("booking.updateBooking", {"notes": "x"}),
    ]:
        assert failed(world.principal, name, {"appointment_id": foreign.pk, **args}) == (
            "RESOURCE_NOT_FOUND",
            {"appointment_id": foreign.pk},
        ), name
    assert ok(world.principal, "booking.listBookings", {})["count"] == 0
    foreign.refresh_from_db()
    assert (foreign.status, foreign.notes) == ("confirmed", "")


# ------------------------------------------------------------------------------ permissions


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.READONLY, {"booking.getBookingDetails", "booking.listBookings"}),
        (
            Role.STAFF,
            {
                "booking.getBookingDetails",
                "booking.listBookings",
                "booking.createBooking",
                "booking.cancelBooking",
            },
        ),
    ],
)
def test_roles_are_held_to_their_permissions(world, role, allowed):
    principal = principal_for(world.tenant, role)
    appointment = existing(world, world.ben, at("15:00"), status=AppointmentStatus.PENDING)
    calls = {
        "booking.createBooking": booking_args(world),
        "booking.cancelBooking": {"appointment_id": appointment.pk},
        "booking.confirmBooking": {"appointment_id": appointment.pk},
        "booking.rescheduleBooking": {
            "appointment_id": appointment.pk,
            "start_time": f"{MONDAY}T16:00",
        },
        "booking.updateBooking": {"appointment_id": appointment.pk, "notes": "x"},
        "booking.getBookingDetails": {"appointment_id": appointment.pk},
        "booking.listBookings": {},
    }
    for name in [name for name in calls if name not in allowed]:
        error_type, details = failed(principal, name, calls[name])
        assert (error_type, details["role"]) == ("PERMISSION_DENIED", role), name
    for name in allowed:
        ok(principal, name, calls[name])


@pytest.mark.parametrize(
    ("plan", "budget"),
    # A plan with a monthly quota adds its check: counted before any work, then again inside
    # the reservation with the tenant row locked.
    [(Plan.ENTERPRISE, 16), (Plan.PROFESSIONAL, 19)],
)
# Without a staff member the pick reads blocks, appointments and the tie-break of every
# qualified member in the one statement a staffed booking spends on its member's.
@pytest.mark.parametrize("staff_given", [True, False], ids=["staffed", "staff-less"])
def test_a_booking_spends_a_fixed_budget_of_statements(plan, budget, staff_given):
    """The booking path's round trips, counted as bench/booking.py counts them: a regression
    here costs every caller latency and the server throughput. Steady state: the second
    booking of a known customer, subjects and schedules cached."""
    world = make_world(plan=plan)
    staff = {} if staff_given else {"staff_id": None}
    book(world, start_time=f"{MONDAY}T09:00:00", **staff)  # warms the caches, the customer
    statements: list[str] = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        booked = book(world, start_time=f"{MONDAY}T11:00:00", **staff)
    assert booked["appointment"]["staff_id"] == world.anna.pk  # staff-less: the higher skill

    # The availability check, the customer; the reservation (appointment, audit row, domain
    # event, outbox message, saga run; SQLite adds its overlap query, PostgreSQL the WAL
    # setting) in a transaction (a savepoint here, inside the test's); the confirmation
    # (details with the template, SMS claimed and sent, audit row, message delivered); the
    # run completed.
    # PostgreSQL also sets the call's statement_timeout and resets it (docs/architecture.md,
    # "The time budget bounds the work").
    budget += 2 if connection.vendor == "postgresql" else 0
    assert len(statements) <= budget, "\n".join(statements)
