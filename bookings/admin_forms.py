"""The forms of the appointment's admin: moving it (a slot picker fed by the availability
engine, or a time and staff member typed in) and the confirmation step of a cancellation.
Neither writes a field itself: both end in a booking service."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from bookings import services
from bookings.availability import find_slots
from bookings.enums import ACTIVE_STATUSES
from bookings.models import Appointment
from common.errors import ApplicationError
from staff.models import Staff

PICKER_DAYS = 7
PICKER_LIMIT = 400  # options in the list; a busy branch's week stays well below


def slot_choices(appointment: Appointment, names: dict[int, str]) -> list[Any]:
    """The free starts for this appointment's service and length at its branch, for the week
    from its day (or today, when it lies in the past), grouped by day, as "start|staff_id"."""
    zone = ZoneInfo(appointment.branch.time_zone)
    first = max(
        timezone.localtime(appointment.start_time, zone).date(),
        timezone.localtime(timezone.now(), zone).date(),
    )
    minutes = round((appointment.end_time - appointment.start_time).total_seconds() / 60)
    slots = find_slots(
        tenant=appointment.tenant,
        service=appointment.service,
        date_from=first,
        date_to=first + dt.timedelta(days=PICKER_DAYS - 1),
        branch_ids=[appointment.branch_id],
        duration_minutes=minutes,
        exclude_appointment_id=appointment.pk,
    )[:PICKER_LIMIT]
    days: dict[str, list[tuple[str, str]]] = {}
    for slot in slots:
        day = date_format(slot.start, "l, d.m.")
        label = f"{slot.start:%H:%M} · {names.get(slot.staff_id, slot.staff_id)}"
        days.setdefault(day, []).append((f"{slot.start.isoformat()}|{slot.staff_id}", label))
    return [("", "—"), *days.items()]


class AppointmentMoveForm(forms.ModelForm):
    """Nothing of the appointment is written from this form directly: a move goes through
    `booking_reschedule` (slot and qualification checked, audited, calendar synced, customer
    informed), a cancellation through the list's action."""

    move_slot = forms.ChoiceField(
        required=False,
        label=_("Free time"),
        help_text=_("Free times of the next seven days from the availability engine."),
    )
    move_to = forms.DateTimeField(
        required=False,
        label=_("Move to"),
        help_text=_("New start in the branch's time; empty: unchanged."),
    )
    move_staff = forms.ModelChoiceField(
        queryset=Staff.objects.none(),
        required=False,
        label=_("New staff member"),
        help_text=_("From the same branch; empty: unchanged."),
    )
    actor = ""

    class Meta:
        model = Appointment
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            return
        staff = (
            Staff.objects.for_tenant(self.instance.tenant_id)
            .filter(branch_id=self.instance.branch_id, is_active=True)
            .order_by("name")
        )
        self.fields["move_staff"].queryset = staff  # type: ignore[attr-defined]
        if self.instance.status in ACTIVE_STATUSES:
            names = {member.pk: member.name for member in staff}
            self.fields["move_slot"].choices = slot_choices(self.instance, names)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        move_to, staff = cleaned.get("move_to"), cleaned.get("move_staff")
        slot = cleaned.get("move_slot")
        if self.errors or (move_to is None and staff is None and not slot):
            return cleaned
        appointment = self.instance
        zone = ZoneInfo(appointment.branch.time_zone)
        staff_id = staff.pk if staff is not None else None
        # The form reads the operator's wall-clock time; the service takes branch time.
        if slot:
            iso, _sep, picked_staff = slot.partition("|")
            start = timezone.make_naive(dt.datetime.fromisoformat(iso), zone)
            staff_id = int(picked_staff)
        elif move_to is not None:
            start = timezone.make_naive(move_to)
        else:
            start = timezone.make_naive(appointment.start_time, zone)
        try:
            services.booking_reschedule(
                tenant=appointment.tenant,
                actor=self.actor,
                appointment_id=appointment.pk,
                start_time=start,
                staff_id=staff_id,
            )
        except ApplicationError as exc:
            self.add_error(None, exc.message)
        return cleaned


class CancelForm(forms.Form):
    """The confirmation step of "Stornieren": why, and whether the customer gets the SMS."""

    reason = forms.CharField(label=_("Reason"), max_length=255)
    notify_customer = forms.BooleanField(
        label=_("Inform the customer by SMS"), required=False, initial=True
    )
