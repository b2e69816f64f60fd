"""Changes the external calendar made to our appointments (Cal.com's webhook), applied here.

A cancellation is `bookings.services.booking_cancel(..., sync_calendar=False)`; a move is
`booking_calendar_moved`, or `booking_calendar_conflict` when our calendar cannot take it. None
of them is echoed back to the calendar.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from bookings import services as booking_services
from bookings.enums import SyncStatus
from bookings.models import Appointment
from mcp_core.audit import Ref, audit_record
from tenants.models import Company


def booking_calendar_moved(
    *,
    tenant: Company,
    actor: str,
    appointment_id: int,
    start_time: dt.datetime,
    external_id: str,
) -> None:
    """The calendar moved the appointment to `start_time` and now knows it as `external_id`:
    reschedule ours the same way (customer notice included, no calendar sync) and mark it
    synced under the new id.

    Raises what `booking_reschedule` raises (e.g. SlotTaken), with nothing changed."""
    with transaction.atomic():
        booking_services.booking_reschedule(
            tenant=tenant,
            actor=actor,
            appointment_id=appointment_id,
            start_time=start_time,
            sync_calendar=False,
        )
        Appointment.objects.for_tenant(tenant).filter(pk=appointment_id).update(
            external_calendar_id=external_id, sync_status=SyncStatus.SYNCED
        )


def booking_calendar_conflict(
    *,
    tenant: Company,
    actor: str,
    appointment_id: int,
    start_time: dt.datetime,
    error: str,
    reference: dict[str, str],
) -> None:
    """The calendar moved the appointment to `start_time`, where ours cannot take it (`error`):
    keep ours, mark its sync failed and audit 'calendar_sync.conflict' for an operator, with the
    calendar's `reference` to its copy (e.g. {"calcom_uid": ...})."""
    with transaction.atomic():
        Appointment.objects.for_tenant(tenant).filter(pk=appointment_id).update(
            sync_status=SyncStatus.FAILED
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action="calendar_sync.conflict",
            obj=Ref(Appointment, appointment_id),
            changes={**reference, "start_time": start_time.isoformat(), "error": error},
        )
