"""The staff.* operations (seed 002 section 1.4; CONTRACT section 3).

Each handler maps its typed arguments to one selector or service call for the caller's tenant
and shapes the result; the rules live in `staff.services` and `staff.selectors`, the time
arithmetic in the availability engine (`bookings.availability`).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from mcp_core.operations import CallContext, operation
from mcp_core.permissions import Permission
from staff import selectors, services
from staff.contracts import (
    AssignStaffToServiceInput,
    BlockStaffTimeInput,
    BlockStaffTimeOutput,
    ConflictingAppointmentOut,
    FindAvailableStaffInput,
    FindAvailableStaffOutput,
    ListStaffInput,
    RecommendationOut,
    SlotOut,
    StaffAvailabilityInput,
    StaffAvailabilityOutput,
    StaffDayOut,
    StaffListOutput,
    StaffOut,
    StaffPerformanceInput,
    StaffPerformanceOutput,
    StaffRef,
    StaffScheduleOutput,
    StaffServicesOutput,
    StaffWorkloadInput,
    StaffWorkloadOutput,
    TimeBlockOut,
    TimeRangeOut,
    UpdateStaffScheduleInput,
    UpdateStaffSkillsInput,
    WeekScheduleOut,
    WorkloadOut,
    services_of,
)
from staff.models import Staff


def _conflicts(
    staff: Staff, result: services.ScheduleUpdate | services.BlockResult
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


def _services_output(ctx: CallContext, staff_id: int) -> StaffServicesOutput:
    staff = selectors.staff_get(tenant=ctx.tenant, staff_id=staff_id)
    return StaffServicesOutput(staff_id=staff.pk, services=services_of(staff))


@operation(
    "staff.listStaff",
    input=ListStaffInput,
    output=StaffListOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="List staff",
    description=(
        "The tenant's staff members by name with their branch, languages, rating and the "
        "services each is qualified for (with skill level 1–5); filter by branch, service or "
        "active state; paginated."
    ),
    examples=({"branch_id": 1, "service_id": 2, "active": True},),
)
def list_staff(ctx: CallContext, args: ListStaffInput) -> StaffListOutput:
    page = selectors.staff_list_page(
        tenant=ctx.tenant,
        branch_id=args.branch_id,
        service_id=args.service_id,
        active=args.active,
        page=args.page,
        page_size=args.page_size,
    )
    return StaffListOutput(
        staff=[StaffOut.from_model(member) for member in page.items],
        count=page.count,
        page=page.page,
        next_page=page.next_page,
    )


@operation(
    "staff.getStaffAvailability",
    input=StaffAvailabilityInput,
    output=StaffAvailabilityOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get staff availability",
    description=(
        "A staff member's days from start_date to end_date (at most 31): bookable working "
        "hours, free slots (of a service when service_id is given), free and booked minutes "
        "and utilisation per day and over the range. Times carry the branch's UTC offset."
    ),
    examples=({"staff_id": 1, "start_date": "2027-03-29", "end_date": "2027-04-02"},),
)
def get_staff_availability(
    ctx: CallContext, args: StaffAvailabilityInput
) -> StaffAvailabilityOutput:
    result = selectors.staff_availability(
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
        "Replace a staff member's whole weekly working hours (days left out are days off), in "
        "the branch's local time, with breaks per period. Returns the new week and the "
        "pending or confirmed future appointments that no longer fit it: they are kept, not "
        "moved or cancelled — reschedule or cancel them with the booking operations."
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
    result = services.staff_schedule_update(
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
        "Who can perform a service starting exactly at start_time: active, qualified staff "
        "of branches offering it who are working, not on a break or blocked and not booked "
        "then. Best first — skill level, then rating, then completed appointments — with a "
        "score and reasons for each. A start without UTC offset is read in the time zone of "
        "the first of branch_ids, else the tenant's (Europe/Berlin by default)."
    ),
    examples=({"service_id": 2, "start_time": "2027-03-29T10:00:00", "branch_ids": [1]},),
)
def find_available_staff(
    ctx: CallContext, args: FindAvailableStaffInput
) -> FindAvailableStaffOutput:
    found = selectors.staff_find_available(
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
    "staff.assignStaffToService",
    input=AssignStaffToServiceInput,
    output=StaffServicesOutput,
    permission=Permission.MANAGE_STAFF,
    idempotent=True,
    title="Assign staff to service",
    description=(
        "Qualify a staff member for a service at a skill level (1–5, default 3); assigning "
        "again sets the level. The service must be offered at the staff member's branch (a "
        "service without branches is offered everywhere). Returns all their qualifications."
    ),
    examples=({"staff_id": 1, "service_id": 2, "skill_level": 4},),
)
def assign_staff_to_service(
    ctx: CallContext, args: AssignStaffToServiceInput
) -> StaffServicesOutput:
    staff = services.staff_service_assign(
        tenant=ctx.tenant,
        actor=ctx.actor,
        staff_id=args.staff_id,
        service_id=args.service_id,
        skill_level=args.skill_level,
    )
    return _services_output(ctx, staff.pk)


@operation(
    "staff.getStaffWorkload",
    input=StaffWorkloadInput,
    output=StaffWorkloadOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get staff workload",
    description=(
        "Appointments, booked and free working minutes and utilisation from date_from to "
        "date_to (at most 31 days) for one staff member, or for every active staff member "
        "(of a branch). Appointments that took place (completed, no-show) count as booked."
    ),
    examples=({"branch_id": 1, "date_from": "2027-03-29", "date_to": "2027-04-04"},),
)
def get_staff_workload(ctx: CallContext, args: StaffWorkloadInput) -> StaffWorkloadOutput:
    loads = selectors.staff_workload(
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
    "staff.updateStaffSkills",
    input=UpdateStaffSkillsInput,
    output=StaffServicesOutput,
    permission=Permission.MANAGE_STAFF,
    idempotent=True,
    title="Update staff skills",
    description=(
        "Set the skill level (1–5) of a staff member for each listed service, adding a "
        "qualification where there is none; unlisted services keep theirs. All or nothing: "
        "one invalid entry changes nothing. Returns all their qualifications."
    ),
    examples=({"staff_id": 1, "skills": [{"service_id": 2, "skill_level": 5}]},),
)
def update_staff_skills(ctx: CallContext, args: UpdateStaffSkillsInput) -> StaffServicesOutput:
    staff = services.staff_skills_update(
        tenant=ctx.tenant,
        actor=ctx.actor,
        staff_id=args.staff_id,
        skills=[skill.model_dump() for skill in args.skills],
    )
    return _services_output(ctx, staff.pk)


@operation(
    "staff.getStaffPerformance",
    input=StaffPerformanceInput,
    output=StaffPerformanceOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get staff performance",
    description=(
        "A staff member's appointments starting in a date range (default: the last 30 days "
        "up to today) by outcome, the revenue of the completed ones in EUR, the utilisation "
        "of their working time and the completion rate (completed ÷ bookings)."
    ),
    examples=({"staff_id": 1, "date_from": "2027-03-01", "date_to": "2027-03-31"},),
)
def get_staff_performance(ctx: CallContext, args: StaffPerformanceInput) -> StaffPerformanceOutput:
    result = selectors.staff_performance(
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
        "leave, training or a manual block). Returns the block and the pending or confirmed "
        "appointments overlapping it: they are kept — reschedule or cancel them with the "
        "booking operations."
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
    result = services.staff_time_block(
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
