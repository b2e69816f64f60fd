"""The staff.* operations that need no appointments (docs/contract.md): listing staff and
their qualifications, and the service catalogue.

Each handler maps its typed arguments to one selector or service call for the caller's tenant
and shapes the result; the rules live in `staff.services` and `staff.selectors`. The staff.*
operations that need appointments (availability, workload, performance, finding free staff,
schedule changes and blocks with the appointments they leave out) are declared in
`bookings.tools.staff`.
"""

from __future__ import annotations

from mcp_core.operations import CallContext, operation
from mcp_core.permissions import Permission
from staff import selectors, services
from staff.contracts import (
    AssignStaffToServiceInput,
    ListServicesInput,
    ListStaffInput,
    ServiceListOutput,
    ServiceOut,
    StaffListOutput,
    StaffOut,
    StaffServicesOutput,
    UpdateStaffSkillsInput,
    services_of,
)


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
        "The tenant's staff members by name with their branch, languages, rating and the services "
        "each is qualified for; paginated."
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
    "staff.listServices",
    input=ListServicesInput,
    output=ServiceListOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="List services",
    description=(
        "The tenant's catalogue by name: each service's id (the service_id of the booking "
        "operations), duration, price, branches and qualified staff. Call it before booking."
    ),
    examples=({"branch_id": 1, "active": True},),
)
def list_services(ctx: CallContext, args: ListServicesInput) -> ServiceListOutput:
    entries = selectors.service_catalogue(
        tenant=ctx.tenant, branch_id=args.branch_id, active=args.active
    )
    return ServiceListOutput(
        services=[
            ServiceOut(
                id=entry.service.pk,
                name=entry.service.name,
                duration=entry.service.duration_minutes,
                price=entry.service.price,
                buffer_before=entry.service.buffer_before_minutes,
                buffer_after=entry.service.buffer_after_minutes,
                branch_ids=list(entry.branch_ids),
                staff_ids=list(entry.staff_ids),
            )
            for entry in entries
        ]
    )


@operation(
    "staff.assignStaffToService",
    input=AssignStaffToServiceInput,
    output=StaffServicesOutput,
    permission=Permission.MANAGE_STAFF,
    idempotent=True,
    title="Assign staff to service",
    description=(
        "Qualify a staff member for a service at a skill level; assigning again sets the level. "
        "The service must be offered at the staff member's branch."
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
    "staff.updateStaffSkills",
    input=UpdateStaffSkillsInput,
    output=StaffServicesOutput,
    permission=Permission.MANAGE_STAFF,
    idempotent=True,
    title="Update staff skills",
    description=(
        "Set a staff member's skill level for each listed service, adding a qualification where "
        "there is none; unlisted services keep theirs. All or nothing: one invalid entry changes "
        "nothing."
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
