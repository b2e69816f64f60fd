"""Staff writes checked against appointments: a new weekly schedule or a time block, with the
pending or confirmed appointments the change leaves outside the staff member's time.

The writes themselves are the staff app's (`staff.services`); these run them and find the
appointments in the same transaction. Appointments are reported, never moved or cancelled:
the caller reschedules or cancels them with the booking services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from bookings.availability import appointments_outside_schedule, appointments_overlapping
from bookings.models import Appointment
from staff import services as staff_services
from staff.enums import TimeBlockKind
from staff.models import Staff, TimeBlock
from staff.selectors import WeekSchedule
from tenants.models import Company


@dataclass(frozen=True)
class CheckedScheduleUpdate:
    staff: Staff
    schedule: WeekSchedule
    conflicting_appointments: list[Appointment]


@transaction.atomic
def staff_schedule_update_checked(
    *,
    tenant: Company,
    actor: str,
    staff_id: int,
    schedule: Mapping[str, Any],
    now: dt.datetime | None = None,
) -> CheckedScheduleUpdate:
    """Replace a staff member's weekly working hours (`staff_schedule_update`) and find the
    pending or confirmed appointments from `now` on that no longer fit the new week (kept as
    they are).

    Raises StaffNotFound and InvalidSchedule before anything is written."""
    update = staff_services.staff_schedule_update(
        tenant=tenant, actor=actor, staff_id=staff_id, schedule=schedule
    )
    conflicts = appointments_outside_schedule(
        tenant=tenant, staff=update.staff, week=update.schedule, now=now
    )
    return CheckedScheduleUpdate(
        staff=update.staff, schedule=update.schedule, conflicting_appointments=conflicts
    )


@dataclass(frozen=True)
class CheckedBlock:
    time_block: TimeBlock
    conflicting_appointments: list[Appointment]


@transaction.atomic
def staff_time_block_checked(
    *,
    tenant: Company,
    actor: str,
    staff_id: int,
    start_time: dt.datetime,
    end_time: dt.datetime,
    kind: str = TimeBlockKind.MANUAL,
    reason: str = "",
) -> CheckedBlock:
    """Make a staff member unbookable from `start_time` to `end_time` (`staff_time_block`) and
    find the pending or confirmed appointments overlapping the block (kept as they are).

    Raises StaffNotFound and InvalidStaffInput before anything is written."""
    block = staff_services.staff_time_block(
        tenant=tenant,
        actor=actor,
        staff_id=staff_id,
        start_time=start_time,
        end_time=end_time,
        kind=kind,
        reason=reason,
    ).time_block
    conflicts = appointments_overlapping(
        tenant=tenant, staff=block.staff, start=block.start_time, end=block.end_time
    )
    return CheckedBlock(time_block=block, conflicting_appointments=conflicts)
