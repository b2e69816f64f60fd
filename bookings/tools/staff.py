"""The staff.* operations that need appointments (declared here, registered on import): a
staff member's availability, workload and performance, the staff free at one start, and the
schedule and block writes that report the appointments they leave out.

The operation names are the staff service's (docs/contract.md) and so are their contracts
(`staff.contracts`); they are declared in the bookings app because staff knows nothing of
appointments. The other staff.* operations are in `staff.tools`. Each handler maps its typed
arguments to one call of `bookings.availability` (reads) or `bookings.services` (writes) for
the caller's tenant and shapes the result.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from bookings import availability, services
from mcp_core.operations import CallContext, operation
from mcp_core.permissions import Permission
from staff.contracts import (
    BlockStaffTimeInput,
    BlockStaffTimeOutput,
    ConflictingAppointmentOut,
    FindAvailableStaffInput,
    FindAvailableStaffOutput,
    RecommendationOut,
    SlotOut,
    StaffAvailabilityInput,
    StaffAvailabilityOutput,
    StaffDayOut,
    StaffOut,
    StaffPerformanceInput,
    StaffPerformanceOutput,
    StaffRef,
    StaffScheduleOutput,
    StaffWorkloadInput,
    StaffWorkloadOutput,
    TimeBlockOut,
    TimeRangeOut,
    UpdateStaffScheduleInput,
    WeekScheduleOut,
    WorkloadOut,
)
from staff.models import Staff


def _conflicts(
    staff: Staff, result: services.CheckedScheduleUpdate | services.CheckedBlock
) -> list[ConflictingAppointmentOut]:
    zone = zoneinfo.ZoneInfo(staff.branch.time_zone)
    return [
        ConflictingAppointmentOut(
            id=appointment.pk,
            confirmation_number=appointment.confirmation_number,
            start_time=_local(appointment.start_time, zone),
            end_time=_local(appointment.end_time, zone),
            status=appointment.status,
        )
        for appointment in result.conflicting_appointments
    ]


@operation(
    "staff.getStaffAvailability",
    input=StaffAvailabilityInput,
    output=StaffAvailabilityOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get staff availability",
    description=(
        "A staff member's days from start_date to end_date: bookable working hours, free slots, "
        "free and booked minutes and utilisation."
    ),
    examples=({"staff_id": 1, "start_date": "2027-03-29", "end_date": "2027-04-02"},),
)
def get_staff_availability(
    ctx: CallContext, args: StaffAvailabilityInput
) -> StaffAvailabilityOutput:
    result = availability.staff_availability(
        tenant=ctx.tenant,
        staff_id=args.staff_id,
        date_from=args.start_date,
        date_to=args.end_date,
        service_id=args.service_id,
    )
    staff = result.staff
    return StaffAvailabilityOutput(
        staff=StaffRef(
            id=staff.pk,
            name=staff.name,
            branch_id=staff.branch_id,
            time_zone=staff.branch.time_zone,
        ),
        start_date=result.date_from.isoformat(),
        end_date=result.date_to.isoformat(),
        days=[
            StaffDayOut(
                date=day.date.isoformat(),
                working_hours=[
                    TimeRangeOut(start=start.isoformat(), end=end.isoformat())
                    for start, end in day.working_periods
                ],
                free_slots=[SlotOut(**slot.as_dict()) for slot in day.free_slots],
                total_available_minutes=day.available_minutes,
                booked_minutes=day.booked_minutes,
                utilisation=day.utilisation,
            )
            for day in result.days
        ],
        total_available_minutes=result.available_minutes,
        total_booked_minutes=result.booked_minutes,
        utilisation=result.utilisation,
    )


@operation(
    "staff.updateStaffSchedule",
    input=UpdateStaffScheduleInput,
    output=StaffScheduleOutput,
    permission=Permission.MANAGE_STAFF,
    idempotent=True,
    title="Update staff schedule",
    description=(
        "Replace a staff member's whole weekly working hours, in the branch's local time (days "
        "left out are days off). Future appointments that no longer fit are kept and returned: "
        "reschedule or cancel them with the booking operations."
    ),
    examples=(
        {
            "staff_id": 1,
            "schedule": {
                "monday": [
                    {
                        "start": "09:00",
                        "end": "18:00",
                        "breaks": [{"start": "12:30", "end": "13:00"}],
                    }
                ],
                "tuesday": [{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "18:00"}],
            },
        },
    ),
)
def update_staff_schedule(ctx: CallContext, args: UpdateStaffScheduleInput) -> StaffScheduleOutput:
    result = services.staff_schedule_update_checked(
        tenant=ctx.tenant,
        actor=ctx.actor,
        staff_id=args.staff_id,
        schedule=args.schedule.model_dump(),
    )
    return StaffScheduleOutput(
        staff_id=result.staff.pk,
        schedule=WeekScheduleOut.model_validate(result.schedule.as_json()),
        conflicting_appointments=_conflicts(result.staff, result),
    )


@operation(
    "staff.findAvailableStaff",
    input=FindAvailableStaffInput,
    output=FindAvailableStaffOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Find available staff",
    description=(
        "Who can perform a service starting exactly at start_time: active, qualified staff of "
        "branches offering it who are free then. Best first (skill level, rating, completed "
        "appointments), each with a score and reasons."
    ),
    examples=({"service_id": 2, "start_time": "2027-03-29T10:00:00", "branch_ids": [1]},),
)
def find_available_staff(
    ctx: CallContext, args: FindAvailableStaffInput
) -> FindAvailableStaffOutput:
    found = availability.staff_find_available(
        tenant=ctx.tenant,
        service_id=args.service_id,
        start=args.start_time,
        branch_ids=args.branch_ids,
        duration_minutes=args.duration,
    )
    local = found.start.strftime("%H:%M")
    return FindAvailableStaffOutput(
        start_time=found.start.isoformat(),
        end_time=found.end.isoformat(),
        staff=[StaffOut.from_model(candidate.staff) for candidate in found.candidates],
        recommendations=[
            RecommendationOut(
                staff_id=candidate.staff.pk,
                name=candidate.staff.name,
                skill_level=candidate.skill_level,
                rating=float(candidate.staff.rating),
                completed_services=candidate.completed,
                score=candidate.score,
                reasons=[
                    f"free at {local}",
                    f"skill level {candidate.skill_level}/5 for {found.service.name}",
                    f"rating {float(candidate.staff.rating):.2f}/5",
                    f"{candidate.completed} completed appointments",
                ],
            )
            for candidate in found.candidates
        ],
        count=len(found.candidates),
    )


@operation(
    "staff.getStaffWorkload",
    input=StaffWorkloadInput,
    output=StaffWorkloadOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get staff workload",
    description=(
        "Appointments, booked and free working minutes and utilisation from date_from to date_to, "
        "for one staff member or every active one (of a branch)."
    ),
    examples=({"branch_id": 1, "date_from": "2027-03-29", "date_to": "2027-04-04"},),
)
def get_staff_workload(ctx: CallContext, args: StaffWorkloadInput) -> StaffWorkloadOutput:
    loads = availability.staff_workload(
        tenant=ctx.tenant,
        date_from=args.date_from,
        date_to=args.date_to,
        staff_id=args.staff_id,
        branch_id=args.branch_id,
    )
    return StaffWorkloadOutput(
        date_from=args.date_from.isoformat(),
        date_to=args.date_to.isoformat(),
        staff=[
            WorkloadOut(
                staff_id=load.staff.pk,
                name=load.staff.name,
                branch_id=load.staff.branch_id,
                appointments=load.appointments,
                booked_minutes=load.booked_minutes,
                available_minutes=load.available_minutes,
                utilisation=load.utilisation,
            )
            for load in loads
        ],
    )


@operation(
    "staff.getStaffPerformance",
    input=StaffPerformanceInput,
    output=StaffPerformanceOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get staff performance",
    description=(
        "A staff member's appointments in a date range by outcome, with the revenue in EUR, the "
        "utilisation of their working time and the completion rate."
    ),
    examples=({"staff_id": 1, "date_from": "2027-03-01", "date_to": "2027-03-31"},),
)
def get_staff_performance(ctx: CallContext, args: StaffPerformanceInput) -> StaffPerformanceOutput:
    result = availability.staff_performance(
        tenant=ctx.tenant, staff_id=args.staff_id, date_from=args.date_from, date_to=args.date_to
    )
    return StaffPerformanceOutput(
        staff_id=result.staff.pk,
        name=result.staff.name,
        date_from=result.date_from.isoformat(),
        date_to=result.date_to.isoformat(),
        bookings=result.bookings,
        completed=result.completed,
        no_shows=result.no_shows,
        cancellations=result.cancellations,
        revenue=f"{result.revenue:.2f}",
        utilisation=result.utilisation,
        completion_rate=result.completion_rate,
    )


@operation(
    "staff.blockStaffTime",
    input=BlockStaffTimeInput,
    output=BlockStaffTimeOutput,
    permission=Permission.MANAGE_STAFF,
    title="Block staff time",
    description=(
        "Make a staff member unbookable from start_time to end_time (absence, vacation, sick "
        "leave, training or a manual block). Appointments overlapping it are kept and returned: "
        "reschedule or cancel them with the booking operations."
    ),
    examples=(
        {
            "staff_id": 1,
            "start_time": "2027-03-29T09:00:00",
            "end_time": "2027-03-29T13:00:00",
            "kind": "training",
            "reason": "Farbseminar",
        },
    ),
)
def block_staff_time(ctx: CallContext, args: BlockStaffTimeInput) -> BlockStaffTimeOutput:
    result = services.staff_time_block_checked(
        tenant=ctx.tenant,
        actor=ctx.actor,
        staff_id=args.staff_id,
        start_time=args.start_time,
        end_time=args.end_time,
        kind=args.kind,
        reason=args.reason,
    )
    block = result.time_block
    staff = block.staff
    zone = zoneinfo.ZoneInfo(staff.branch.time_zone)
    return BlockStaffTimeOutput(
        time_block=TimeBlockOut(
            id=block.pk,
            staff_id=staff.pk,
            start_time=_local(block.start_time, zone),
            end_time=_local(block.end_time, zone),
            kind=block.kind,
            reason=block.reason,
        ),
        conflicting_appointments=_conflicts(staff, result),
    )


def _local(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    return value.astimezone(zone).isoformat()
