"""Today's appointments as one row per staff member, positioned by time, rendered in Python
(hundreds of slots through the template engine cost more than the page's queries)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from bookings.enums import AppointmentStatus

if TYPE_CHECKING:
    from mcp_core.console.today import Lane, Slot

PLACEHOLDER = "999999999999"


def _slots_html(slots: Sequence[Slot], link: str, statuses: Mapping[str, str]) -> str:
    """One lane's appointments. Plain f-strings over texts escaped once per service, customer
    and status (a day of 20 lanes holds hundreds of slots; format_html per slot escaped each of
    its ten values again and was most of the page's Python time)."""
    services: dict[int, str] = {}
    customers: dict[int, str] = {}
    parts = []
    for slot in slots:
        appointment = slot.appointment
        service = services.get(appointment.service_id)
        if service is None:
            service = services[appointment.service_id] = escape(appointment.service.name)
        customer = customers.get(appointment.customer_id)
        if customer is None:
            person = appointment.customer
            customer = customers[appointment.customer_id] = escape(person.name or person.phone)
        status = statuses.get(appointment.status) or escape(appointment.status)
        start, end = f"{slot.start:%H:%M}", f"{slot.end:%H:%M}"
        parts.append(
            f'<a class="console-slot status-{escape(appointment.status)}" '
            f'data-appointment="{appointment.pk}" style="left: {slot.left:.2f}%; '
            f'width: {slot.width:.2f}%" href="{link.replace(PLACEHOLDER, str(appointment.pk))}" '
            f'title="{start}–{end} {service} · {customer} · {status}">'
            f"{start} {service}<br>{customer} · {status}</a>"
        )
    return "".join(parts)


def timeline_html(hours: Sequence[int], lanes: Sequence[Lane]) -> SafeString:
    if not lanes:
        return format_html("<p>{}</p>", _("No staff members at this branch."))
    # Looked up once per page, not once per slot.
    link = escape(reverse("admin:bookings_appointment_change", args=[PLACEHOLDER]))
    statuses = {value: escape(str(label)) for value, label in AppointmentStatus.choices}
    scale = format_html_join(
        "",
        '<span style="left: {}%">{}:00</span>',
        ((f"{100 * index / len(hours):.2f}", hour) for index, hour in enumerate(hours)),
    )
    rows = "".join(
        f'<tr class="console-staff" data-staff="{lane.staff.pk}"><th>{escape(lane.staff.name)}'
        f'</th><td><div class="console-lane">{_slots_html(lane.slots, link, statuses)}</div>'
        "</td></tr>"
        for lane in lanes
    )
    # Every text above went through escape(); numbers and times are ours.
    return mark_safe(  # noqa: S308
        '<table class="console-timeline"><tr><th></th><td><div class="console-hours">'
        f"{scale}</div></td></tr>{rows}</table>"
    )
