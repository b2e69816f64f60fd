"""The appointment change page writes nothing directly: a move goes through the booking service
(checked, audited, customer informed); editing time, staff, price or branch is not possible."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from bookings.models import Appointment
from mcp_core.models import AuditLog, OutboxMessage
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    MONDAY,
    _fresh_calendar,
    _frozen_time,
    at,
    existing,
    make_world,
    outbox,
)
from tests.factories import OperatorProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def operator(client, world):
    profile = OperatorProfileFactory(tenant=world.tenant, user__username="anja")
    profile.user.user_permissions.set(Permission.objects.filter(content_type__app_label="bookings"))
    client.force_login(profile.user)
    return client


def _change(appointment: Appointment) -> str:
    return reverse("admin:bookings_appointment_change", args=[appointment.pk])


def _audit(world, appointment: Appointment) -> list[str]:
    return list(
        AuditLog.objects.for_tenant(world.tenant)
        .filter(object_type="bookings.appointment", object_id=str(appointment.pk))
        .values_list("action", flat=True)
    )


def test_a_move_goes_through_the_booking_service(operator, world):
    appointment = existing(world, world.anna, at("10:00"))

    response = operator.post(
        _change(appointment), {"move_to": f"{MONDAY} 15:00:00", "move_staff": world.ben.pk}
    )

    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.start_time == at("15:00")
    assert appointment.end_time == at("15:30")
    assert appointment.staff_id == world.ben.pk
    assert _audit(world, appointment) == ["appointment.rescheduled"]
    notices = OutboxMessage.objects.for_tenant(world.tenant).values_list("topic", flat=True)
    assert list(notices) == ["notification.booking"]  # the customer's notice of the move


def test_time_staff_and_price_fields_post_nothing_and_a_taken_slot_is_refused(operator, world):
    appointment = existing(world, world.anna, at("10:00"))
    existing(world, world.anna, at("14:00"))
    before = Appointment.objects.for_tenant(world.tenant).values().get(pk=appointment.pk)

    direct = operator.post(
        _change(appointment),
        {
            "start_time_0": f"{MONDAY}",
            "start_time_1": "12:00:00",
            "price": "1.00",
            "staff": world.ben.pk,
            "branch": world.branch.pk,
        },
    )
    taken = operator.post(_change(appointment), {"move_to": f"{MONDAY} 14:00:00"})

    assert direct.status_code == 302
    assert taken.status_code == 200
    assert taken.context["adminform"].form.non_field_errors()
    after = Appointment.objects.for_tenant(world.tenant).values().get(pk=appointment.pk)
    assert after == before
    assert after["price"] == Decimal("39.00")
    assert _audit(world, appointment) == []


def test_the_slot_picker_offers_free_times_from_the_availability_engine_and_moves(operator, world):
    appointment = existing(world, world.anna, at("10:00"))
    existing(world, world.ben, at("11:00"))

    page = operator.get(_change(appointment)).content.decode()
    picker = page.split('name="move_slot"')[1].split("</select>")[0]

    assert "Montag, 08.03." in picker  # grouped by the branch's day, in German
    assert f'value="{at("11:00").isoformat()}|{world.anna.pk}">11:00 · Anna' in picker
    assert f"{at('11:00').isoformat()}|{world.ben.pk}" not in picker  # Ben is booked then
    response = operator.post(
        _change(appointment), {"move_slot": f"{at('11:30').isoformat()}|{world.ben.pk}"}
    )

    assert response.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.start_time, appointment.staff_id) == (at("11:30"), world.ben.pk)
    assert _audit(world, appointment) == ["appointment.rescheduled"]


def test_a_slot_not_offered_is_refused_and_nothing_moves(operator, world):
    appointment = existing(world, world.anna, at("10:00"))
    existing(world, world.ben, at("11:00"))

    response = operator.post(
        _change(appointment), {"move_slot": f"{at('11:00').isoformat()}|{world.ben.pk}"}
    )

    assert response.status_code == 200
    assert "Bitte eine gültige Auswahl treffen." in response.content.decode()
    appointment.refresh_from_db()
    assert (appointment.start_time, appointment.staff_id) == (at("10:00"), world.anna.pk)
    assert _audit(world, appointment) == []
