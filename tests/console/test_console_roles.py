"""The roles the migration creates: the front desk books, moves and cancels but edits no staff
or branch; the branch manager also edits staff, hours and routing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from bookings.enums import AppointmentStatus
from tests.factories import AppointmentFactory, OperatorProfileFactory

pytestmark = pytest.mark.django_db


def _member(client, tenant, group: str):
    profile = OperatorProfileFactory(tenant=tenant)
    profile.user.groups.add(Group.objects.get(name=group))
    client.force_login(profile.user)


def test_front_desk_cancels_but_edits_no_staff_or_branch(client):
    appointment = AppointmentFactory()
    _member(client, appointment.tenant, "Empfang")
    staff_url = reverse("admin:staff_staff_change", args=[appointment.staff_id])

    cancelled = client.post(
        reverse("admin:bookings_appointment_changelist"),
        {
            "action": "cancel_appointments",
            "_selected_action": [appointment.pk],
            "confirm": "1",
            "reason": "Kunde hat abgesagt",
        },
    )
    renamed = client.post(staff_url, {"name": "Umbenannt"})

    appointment.refresh_from_db()
    assert cancelled.status_code == 302
    assert appointment.status == AppointmentStatus.CANCELLED
    assert renamed.status_code == 403
    assert client.get(reverse("admin:staff_staff_add")).status_code == 403
    assert client.get(reverse("admin:routing_routingrule_changelist")).status_code == 403
    appointment.staff.refresh_from_db()
    assert appointment.staff.name != "Umbenannt"


def test_branch_manager_edits_staff_and_routing(client):
    appointment = AppointmentFactory()
    _member(client, appointment.tenant, "Filialleitung")
    assert client.get(reverse("admin:staff_staff_add")).status_code == 200
    assert client.get(reverse("admin:routing_routingrule_add")).status_code == 200
    assert client.get(reverse("admin:mcp_core_outboxmessage_changelist")).status_code == 403


def test_a_user_without_change_permission_gets_no_booking_actions(client):
    appointment = AppointmentFactory()
    profile = OperatorProfileFactory(tenant=appointment.tenant)
    profile.user.user_permissions.add(
        *Group.objects.get(name="Empfang").permissions.filter(codename="view_appointment")
    )
    client.force_login(profile.user)
    page = client.get(reverse("admin:bookings_appointment_changelist")).content.decode()
    assert "cancel_appointments" not in page and "mark_no_show" not in page
