"""The operations console through the admin's front door: the start page "Heute", the
booking actions through the services, the customer search, German with English selectable."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from bookings.enums import AppointmentStatus
from bookings.models import Appointment
from mcp_core.models import AuditLog, OutboxMessage
from routing.enums import CallOutcome
from tests.factories import (
    AppointmentFactory,
    BranchFactory,
    CallLogFactory,
    CustomerFactory,
    OperatorProfileFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")
EXTERNAL_URL = re.compile(r"""(?:src|href|action)=["']?(?:https?:)?//""")


def _today_at(hour: int, minute: int = 0) -> dt.datetime:
    day = timezone.localtime(timezone.now(), BERLIN).date()
    return dt.datetime.combine(day, dt.time(hour, minute), BERLIN)


def _appointment(staff, start: dt.datetime, **kwargs) -> Appointment:
    return AppointmentFactory(
        staff=staff,
        start_time=start,
        end_time=start + dt.timedelta(minutes=30),
        occupied_start=start,
        occupied_end=start + dt.timedelta(minutes=30),
        **kwargs,
    )


@pytest.fixture
def branch():
    return BranchFactory(name="Salon Mitte", is_active=True, time_zone="Europe/Berlin")


@pytest.fixture
def operator(client, branch):
    profile = OperatorProfileFactory(tenant=branch.tenant)
    profile.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["bookings", "routing", "staff"])
    )
    client.force_login(profile.user)
    return client


def test_start_page_shows_todays_appointments_per_staff_member_in_branch_time(operator, branch):
    anna = StaffFactory(tenant=branch.tenant, branch=branch, name="Anna")
    ben = StaffFactory(tenant=branch.tenant, branch=branch, name="Ben")
    mine = _appointment(anna, _today_at(10), customer=CustomerFactory(tenant=branch.tenant))
    _appointment(ben, _today_at(14, 30))
    tomorrow = _appointment(anna, _today_at(10) + dt.timedelta(days=1))
    elsewhere = AppointmentFactory(start_time=_today_at(11))  # another tenant, same day
    CallLogFactory(branch=branch, started_at=_today_at(9, 15), outcome=CallOutcome.NO_BOOKING)

    page = operator.get(reverse("admin:index")).content.decode()

    assert "Termine heute" in page
    lanes = page.split('class="console-staff"')[1:]
    assert [lane.split("<th>")[1].split("</th>")[0] for lane in lanes] == ["Anna", "Ben"]
    assert f'data-appointment="{mine.pk}"' in lanes[0]
    assert "10:00 " in lanes[0]  # 09:00 UTC in winter, 08:00 UTC in summer: shown as 10:00
    assert "14:30 " in lanes[1]
    assert f'data-appointment="{tomorrow.pk}"' not in page
    assert f'data-appointment="{elsewhere.pk}"' not in page
    assert "09:15" in page and "Keine Buchung" in page  # the call, its outcome in German
    assert "<strong>1</strong>Anrufe ohne Buchung (7 Tage)" in page
    assert page.count('<svg class="console-chart"') == 2
    assert not EXTERNAL_URL.search(page)  # no CDN: nothing loads from another host


def test_start_page_fragment_for_polling_and_unknown_branch(operator, branch):
    fragment = operator.get(reverse("admin:console_today"), {"branch": branch.pk, "partial": 1})
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert "Salon Mitte" in fragment.content.decode()
    other = BranchFactory()
    assert operator.get(reverse("admin:console_today"), {"branch": other.pk}).status_code == 404


def test_german_by_default_english_when_chosen(operator, branch):
    german = operator.get(reverse("admin:console_areas")).content.decode()
    assert "Buchungen" in german and "Mcp_Core" not in german
    operator.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    english = operator.get(reverse("admin:index")).content.decode()
    assert "Appointments today" in english


def test_appointment_named_in_branch_time():
    winter = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    appointment = AppointmentFactory(start_time=winter, end_time=winter + dt.timedelta(hours=1))
    assert str(appointment).endswith("· 07.12.2026 10:00")


def test_cancel_asks_for_reason_then_cancels_without_sms(operator, branch):
    staff = StaffFactory(tenant=branch.tenant, branch=branch)
    appointment = _appointment(staff, _today_at(16) + dt.timedelta(days=1))
    url = reverse("admin:bookings_appointment_changelist")
    chosen = {"action": "cancel_appointments", "_selected_action": [appointment.pk]}

    asked = operator.post(url, chosen)
    assert asked.status_code == 200 and "Grund" in asked.content.decode()
    refused = operator.post(url, chosen | {"confirm": "1", "reason": ""})
    assert "Dieses Feld ist zwingend erforderlich." in refused.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED  # nothing written yet

    done = operator.post(url, chosen | {"confirm": "1", "reason": "Kundin krank"}, follow=True)

    assert "1 Termin storniert." in done.content.decode()
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancellation_reason) == ("cancelled", "Kundin krank")
    audit = AuditLog.objects.for_tenant(branch.tenant).get(action="appointment.cancelled")
    assert audit.actor.startswith("admin:") and audit.changes["customer_notified"] is False
    notices = OutboxMessage.objects.for_tenant(branch.tenant).filter(payload__kind="cancellation")
    assert not notices.exists()


def test_cancel_with_sms_writes_the_notice(operator, branch):
    appointment = _appointment(
        StaffFactory(tenant=branch.tenant, branch=branch), _today_at(16) + dt.timedelta(days=1)
    )
    operator.post(
        reverse("admin:bookings_appointment_changelist"),
        {
            "action": "cancel_appointments",
            "_selected_action": [appointment.pk],
            "confirm": "1",
            "reason": "Salon geschlossen",
            "notify_customer": "on",
        },
    )
    notices = OutboxMessage.objects.for_tenant(branch.tenant).filter(
        payload__kind="cancellation", payload__appointment_id=appointment.pk
    )
    assert notices.count() == 1


def test_confirm_and_no_show_go_through_the_services(operator, branch):
    staff = StaffFactory(tenant=branch.tenant, branch=branch)
    pending = _appointment(staff, _today_at(9), status=AppointmentStatus.PENDING)
    came_not = _appointment(staff, _today_at(11))
    url = reverse("admin:bookings_appointment_changelist")

    confirmed = operator.post(
        url, {"action": "confirm_appointments", "_selected_action": [pending.pk]}, follow=True
    )
    marked = operator.post(
        url, {"action": "mark_no_show", "_selected_action": [came_not.pk, pending.pk]}, follow=True
    )

    assert "1 Termin bestätigt." in confirmed.content.decode()
    assert "2 Termine als nicht erschienen vermerkt." in marked.content.decode()
    pending.refresh_from_db()
    came_not.refresh_from_db()
    assert (pending.status, came_not.status) == ("no_show", "no_show")
    actions = sorted(AuditLog.objects.for_tenant(branch.tenant).values_list("action", flat=True))
    assert actions == ["appointment.confirmed", "appointment.no_show", "appointment.no_show"]


def test_no_show_refused_for_a_cancelled_appointment(operator, branch):
    staff = StaffFactory(tenant=branch.tenant, branch=branch)
    gone = _appointment(staff, _today_at(9), status=AppointmentStatus.CANCELLED)
    answer = operator.post(
        reverse("admin:bookings_appointment_changelist"),
        {"action": "mark_no_show", "_selected_action": [gone.pk]},
        follow=True,
    )
    assert "0 Termine als nicht erschienen vermerkt." in answer.content.decode()
    gone.refresh_from_db()
    assert gone.status == "cancelled"
    assert not AuditLog.objects.for_tenant(branch.tenant).exists()


@pytest.mark.parametrize("term", ["0170 98765432", "+49 170 98765432", "0049-170-98765432"])
def test_customer_found_by_phone_in_any_format(operator, branch, term):
    wanted = CustomerFactory(tenant=branch.tenant, phone="+4917098765432", name="Frau Weiß")
    CustomerFactory(phone="+4917098765432", name="Andere Firma")  # another tenant's
    page = operator.get(reverse("admin:bookings_customer_changelist"), {"q": term})
    body = page.content.decode()
    assert reverse("admin:bookings_customer_change", args=[wanted.pk]) in body
    assert "Andere Firma" not in body
