"""When a staff member's time cannot be had, the same answer from every write that claims it.

- `check_slot`: the availability rules for one staff member at one start, before anything is
  written; a time already taken is a SlotTaken that lists the next free slots. Creating,
  rescheduling and lengthening a booking all run it.
- `overlap_at_lock`: the overlap query a write repeats inside its transaction. On SQLite every
  write transaction is IMMEDIATE (the write lock is taken at BEGIN), so the query cannot be
  raced; on PostgreSQL the exclusion constraint `appointment_no_staff_overlap` has the last word
  instead (a new appointment it refuses is not inserted, a moved one raises IntegrityError,
  which `violation` names).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection
from django.db.models import QuerySet

from bookings import availability
from bookings.enums import ACTIVE_STATUSES
from bookings.errors import SlotTaken
from bookings.models import Appointment
from staff.models import Service, Staff
from tenants.models import Branch, Company

OVERLAP_CONSTRAINT = "appointment_no_staff_overlap"
NEXT_AVAILABLE_LIMIT = 3


def check_slot(
    *,
    tenant: Company,
    service: Service,
    branch: Branch,
    staff: Staff,
    start: dt.datetime,
    minutes: int,
    offer: availability.Offer | None = None,
    exclude_appointment_id: int | None = None,
) -> None:
    """Check that `staff` can take `service` at `branch` from `start` for `minutes`
    (`availability.check_bookable`; `exclude_appointment_id`: the appointment being moved).

    Raises SlotNotBookable when the rules forbid it and SlotTaken, with the staff member's next
    free slots (details.next_available), when another appointment is in the way."""
    try:
        availability.check_bookable(
            tenant=tenant,
            service=service,
            branch=branch,
            staff=staff,
            start=start,
            duration_minutes=minutes,
            exclude_appointment_id=exclude_appointment_id,
            offer=offer,
        )
    except SlotTaken as exc:
        raise slot_taken(
            tenant, service, branch, staff.pk, start, minutes, exc, exclude_appointment_id
        ) from exc


def next_slots(
    tenant: Company,
    service: Service,
    branch: Branch,
    staff_id: int | None,
    start: dt.datetime,
    minutes: int,
    exclude_appointment_id: int | None = None,
) -> list[dict[str, Any]]:
    slots = availability.next_available(
        tenant=tenant,
        service=service,
        after=start,
        branch_ids=[branch.pk],
        staff_id=staff_id,
        limit=NEXT_AVAILABLE_LIMIT,
        duration_minutes=minutes,
        exclude_appointment_id=exclude_appointment_id,
    )
    return [slot.as_dict() for slot in slots]


def slot_taken(
    tenant: Company,
    service: Service,
    branch: Branch,
    staff_id: int | None,
    start: dt.datetime,
    minutes: int,
    cause: SlotTaken | None = None,
    exclude_appointment_id: int | None = None,
) -> SlotTaken:
    """SlotTaken with the next free slots (of the staff member when one was asked for)."""
    zone = ZoneInfo(branch.time_zone)
    details: dict[str, Any] = dict(cause.details) if cause is not None else {}
    details.setdefault("staff_id", staff_id)
    details.setdefault("start_time", start.astimezone(zone).isoformat())
    details["next_available"] = next_slots(
        tenant, service, branch, staff_id, start, minutes, exclude_appointment_id
    )
    message = cause.message if cause is not None else SlotTaken.default_message
    return SlotTaken(message, details=details)


def overlap_at_lock(
    tenant: Company,
    staff_id: int,
    occupied: tuple[dt.datetime, dt.datetime],
    exclude_appointment_id: int | None = None,
) -> bool:
    """Whether an active appointment of the staff member overlaps `occupied`, asked inside the
    write transaction where the database does not refuse overlaps itself (SQLite); always
    False on PostgreSQL, whose exclusion constraint refuses the write instead."""
    if connection.vendor == "postgresql":
        return False
    return _overlapping(tenant, staff_id, occupied, exclude_appointment_id).exists()


def _overlapping(
    tenant: Company,
    staff_id: int,
    occupied: tuple[dt.datetime, dt.datetime],
    exclude_appointment_id: int | None = None,
) -> QuerySet[Appointment]:
    found = Appointment.objects.for_tenant(tenant).filter(
        staff_id=staff_id,
        status__in=ACTIVE_STATUSES,
        occupied_start__lt=occupied[1],
        occupied_end__gt=occupied[0],
    )
    if exclude_appointment_id is not None:
        found = found.exclude(pk=exclude_appointment_id)
    return found


def violation(exc: IntegrityError) -> str:
    """Which constraint an IntegrityError broke: 'overlap', 'idempotency_key',
    'confirmation_number' or '' (PostgreSQL names it; SQLite only lists the columns)."""
    diag = getattr(exc.__cause__, "diag", None)
    text = getattr(diag, "constraint_name", None) or str(exc)
    if OVERLAP_CONSTRAINT in text:
        return "overlap"
    if "idempotency_key" in text:
        return "idempotency_key"
    if "confirmation_number" in text:
        return "confirmation_number"
    return ""
