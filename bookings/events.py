"""The booking events' payload: ids, times and status, never the customer's name or phone
(docs/events.md)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from bookings.models import Appointment
from mcp_core.events import emit

if TYPE_CHECKING:
    from tenants.models import Company


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def booking_payload(
    *,
    appointment_id: int,
    confirmation_number: str,
    status: str,
    start: dt.datetime,
    end: dt.datetime,
    branch_id: int,
    service_id: int,
    staff_id: int,
    customer_id: int,
    source: str,
) -> dict[str, Any]:
    return {
        "appointment_id": appointment_id,
        "confirmation_number": confirmation_number,
        "status": status,
        "start_time": _iso(start),
        "end_time": _iso(end),
        "branch_id": branch_id,
        "service_id": service_id,
        "staff_id": staff_id,
        "customer_id": customer_id,
        "source": source,
    }


def emit_booking_event(tenant: Company, event: str, appointment: Appointment, **extra: Any) -> None:
    """Emit `event` for `appointment` in the caller's transaction; `extra` joins the payload
    (e.g. `previous` times of a reschedule, `changed` fields of an update)."""
    data = booking_payload(
        appointment_id=appointment.pk,
        confirmation_number=appointment.confirmation_number,
        status=appointment.status,
        start=appointment.start_time,
        end=appointment.end_time,
        branch_id=appointment.branch_id,
        service_id=appointment.service_id,
        staff_id=appointment.staff_id,
        customer_id=appointment.customer_id,
        source=appointment.source,
    )
    emit(
        tenant=tenant,
        event=event,
        data={**data, **extra},
        branch_id=appointment.branch_id,
        customer_id=appointment.customer_id,
    )
