"""Writes of the bookings app: keyword-only, tenant first, actor second, with an audit row."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from bookings.enums import AppointmentStatus
from bookings.errors import AppointmentNotFound, IllegalStatusTransition
from bookings.models import Appointment
from bookings.status import can_transition
from tenants.audit import audit_record
from tenants.models import Company


@transaction.atomic
def booking_cancel(
    *, tenant: Company, actor: str, appointment_id: int, reason: str = ""
) -> Appointment:
    """Cancel an appointment, freeing its slot.

    Raises AppointmentNotFound (also for another tenant's id) and IllegalStatusTransition.
    """
    appointment = (
        Appointment.objects.for_tenant(tenant).select_for_update().filter(pk=appointment_id).first()
    )
    if appointment is None:
        raise AppointmentNotFound(details={"appointment_id": appointment_id})
    if not can_transition(appointment.status, AppointmentStatus.CANCELLED):
        raise IllegalStatusTransition(
            f"A {appointment.status} appointment cannot be cancelled.",
            details={"status": appointment.status},
        )
    previous = appointment.status
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancelled_at = timezone.now()
    appointment.cancellation_reason = reason[:255]
    appointment.save(update_fields=["status", "cancelled_at", "cancellation_reason", "updated_at"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="appointment.cancelled",
        obj=appointment,
        changes={"status": [previous, AppointmentStatus.CANCELLED], "reason": reason},
    )
    return appointment
