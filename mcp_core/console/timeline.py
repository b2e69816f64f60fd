"""Today's appointments as one row per staff member, positioned by time, rendered in Python
(hundreds of slots through the template engine cost more than the page's queries)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from bookings.enums import AppointmentStatus

if TYPE_CHECKING:
    from mcp_core.console.today import Lane, Slot

PLACEHOLDER = "999999999999"


def _slot(slot: Slot, link: str, statuses: dict[str, str]) -> tuple[object, ...]:
    appointment = slot.appointment
    customer = appointment.customer.name or appointment.customer.phone
    status = statuses.get(appointment.status, appointment.status)
    when = f"{slot.start:%H:%M}–{slot.end:%H:%M}"
    return (
        appointment.status,
        appointment.pk,
        f"{slot.left:.2f}",
        f"{slot.width:.2f}",
        link.replace(PLACEHOLDER, str(appointment.pk)),
        f"{when} {appointment.service.name} · {customer} · {status}",
        f"{slot.start:%H:%M}",
        appointment.service.name,
        customer,
        status,
    )


def timeline_html(hours: Sequence[int], lanes: Sequence[Lane]) -> SafeString:
    if not lanes:
        return format_html("<p>{}</p>", _("No staff members at this branch."))
    # Looked up once per page, not once per slot.
    link = reverse("admin:bookings_appointment_change", args=[PLACEHOLDER])
    statuses = {value: str(label) for value, label in AppointmentStatus.choices}
    scale = format_html_join(
        "",
        '<span style="left: {}%">{}:00</span>',
        ((f"{100 * index / len(hours):.2f}", hour) for index, hour in enumerate(hours)),
    )
    rows = format_html_join(
        "",
        '<tr class="console-staff" data-staff="{}"><th>{}</th>'
        '<td><div class="console-lane">{}</div></td></tr>',
        (
            (
                lane.staff.pk,
                lane.staff.name,
                format_html_join(
                    "",
                    '<a class="console-slot status-{}" data-appointment="{}" '
                    'style="left: {}%; width: {}%" href="{}" title="{}">{} {}<br>{} · {}</a>',
                    (_slot(slot, link, statuses) for slot in lane.slots),
                ),
            )
            for lane in lanes
        ),
    )
    return format_html(
        '<table class="console-timeline"><tr><th></th><td><div class="console-hours">{}</div>'
        "</td></tr>{}</table>",
        scale,
        rows,
    )
