"""The tenant.* operations (docs/contract.md).

Each handler maps its typed arguments to one selector or service call for the caller's tenant
and shapes the result; the rules live in `tenants.services` and `tenants.selectors`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import cast

from mcp_core.flags import flags_for
from mcp_core.operations import CallContext, EmptyInput, operation
from mcp_core.permissions import ROLE_PERMISSIONS, Permission
from mcp_core.ratelimit import rate_limit_usage
from tenants import selectors, services
from tenants.contracts import (
    BranchIdInput,
    BranchListOutput,
    BranchOut,
    BranchOutput,
    CreateBranchInput,
    FeatureFlagsOutput,
    ListBranchesInput,
    PlanLimitsOut,
    QuotaUsage,
    StaffInBranch,
    TenantAccessOutput,
    TenantOverview,
    TenantProfile,
    TenantProfileOutput,
    TenantQuotaOutput,
    TenantSettingsOutput,
    UpdateBranchInput,
    UpdateTenantInput,
    UpdateTenantSettingsInput,
)
from tenants.policy import effective_plan, plan_limits


@operation(
    "tenant.getTenant",
    input=EmptyInput,
    output=TenantOverview,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get tenant",
    description=(
        "The caller's company: profile, subscription, plan limits and a summary of its branches."
    ),
)
def get_tenant(ctx: CallContext, args: EmptyInput) -> TenantOverview:
    return selectors.tenant_overview(tenant=ctx.tenant)


@operation(
    "tenant.updateTenant",
    input=UpdateTenantInput,
    output=TenantProfileOutput,
    permission=Permission.MANAGE_COMPANY,
    idempotent=True,
    title="Update tenant",
    description=(
        "Change the company's name, e-mail, phone, default language or time zone; only the fields "
        "given change."
    ),
    examples=({"name": "Salon Sonnenschein", "phone": "030 1234567"},),
)
def update_tenant(ctx: CallContext, args: UpdateTenantInput) -> TenantProfileOutput:
    changes = cast(services.TenantChanges, args.model_dump(exclude_unset=True))
    company = services.tenant_update(tenant=ctx.tenant, actor=ctx.actor, changes=changes)
    return TenantProfileOutput(tenant=TenantProfile.from_model(company))


@operation(
    "tenant.listBranches",
    input=ListBranchesInput,
    output=BranchListOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="List branches",
    description=(
        "The company's branches by name, optionally only active or inactive ones or those in a "
        "city; paginated."
    ),
    examples=({"active": True, "city": "berlin"},),
)
def list_branches(ctx: CallContext, args: ListBranchesInput) -> BranchListOutput:
    page = selectors.branch_list_page(
        tenant=ctx.tenant,
        active=args.active,
        city=args.city,
        page=args.page,
        page_size=args.page_size,
    )
    return BranchListOutput(
        branches=[BranchOut.from_model(branch) for branch in page.items],
        count=page.count,
        page=page.page,
        next_page=page.next_page,
    )


@operation(
    "tenant.getBranch",
    input=BranchIdInput,
    output=BranchOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get branch",
    description="One branch of the company with its address, opening hours and settings.",
    examples=({"branch_id": 1},),
)
def get_branch(ctx: CallContext, args: BranchIdInput) -> BranchOutput:
    branch = selectors.branch_get(tenant=ctx.tenant, branch_id=args.branch_id)
    return BranchOutput(branch=BranchOut.from_model(branch))


@operation(
    "tenant.createBranch",
    input=CreateBranchInput,
    output=BranchOutput,
    permission=Permission.MANAGE_BRANCHES,
    title="Create branch",
    description=(
        "Open a new branch, inactive (no bookings or calls) until tenant.activateBranch. A name "
        "the company already uses (any case) is a CONFLICT; one past the plan's branch limit is "
        "TENANT_QUOTA_EXCEEDED."
    ),
    examples=(
        {
            "name": "Hamburg Altona",
            "address": "Ottenser Hauptstraße 10",
            "postal_code": "22765",
            "city": "Hamburg",
            "latitude": 53.5511,
            "longitude": 9.9937,
        },
    ),
)
def create_branch(ctx: CallContext, args: CreateBranchInput) -> BranchOutput:
    branch = services.branch_create(tenant=ctx.tenant, actor=ctx.actor, **args.model_dump())
    return BranchOutput(branch=BranchOut.from_model(branch))


@operation(
    "tenant.updateBranch",
    input=UpdateBranchInput,
    output=BranchOutput,
    permission=Permission.MANAGE_BRANCHES,
    idempotent=True,
    title="Update branch",
    description=(
        "Change a branch; only the fields given change. Settings keys are merged (null removes a "
        "key) and business_hours replace the whole week."
    ),
    examples=({"branch_id": 1, "phone": "040 1234567", "settings": {"min_notice_minutes": 120}},),
)
def update_branch(ctx: CallContext, args: UpdateBranchInput) -> BranchOutput:
    changes = cast(
        services.BranchChanges, args.model_dump(exclude_unset=True, exclude={"branch_id"})
    )
    branch = services.branch_update(
        tenant=ctx.tenant, actor=ctx.actor, branch_id=args.branch_id, changes=changes
    )
    return BranchOutput(branch=BranchOut.from_model(branch))


@operation(
    "tenant.activateBranch",
    input=BranchIdInput,
    output=BranchOutput,
    permission=Permission.MANAGE_BRANCHES,
    idempotent=True,
    title="Activate branch",
    description=(
        "Open a branch for bookings and calls; activating an active branch changes nothing."
    ),
    examples=({"branch_id": 1},),
)
def activate_branch(ctx: CallContext, args: BranchIdInput) -> BranchOutput:
    return _set_active(ctx, args.branch_id, is_active=True)


@operation(
    "tenant.deactivateBranch",
    input=BranchIdInput,
    output=BranchOutput,
    permission=Permission.MANAGE_BRANCHES,
    idempotent=True,
    destructive=True,
    title="Deactivate branch",
    description="Close a branch for new bookings and calls; its data and appointments stay.",
    examples=({"branch_id": 1},),
)
def deactivate_branch(ctx: CallContext, args: BranchIdInput) -> BranchOutput:
    return _set_active(ctx, args.branch_id, is_active=False)


def _set_active(ctx: CallContext, branch_id: int, *, is_active: bool) -> BranchOutput:
    branch = selectors.branch_get(tenant=ctx.tenant, branch_id=branch_id)
    branch = services.branch_set_active(
        tenant=ctx.tenant, actor=ctx.actor, branch=branch, is_active=is_active
    )
    return BranchOutput(branch=BranchOut.from_model(branch))


@operation(
    "tenant.getTenantSettings",
    input=EmptyInput,
    output=TenantSettingsOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get tenant settings",
    description="The company's free-form settings object.",
)
def get_tenant_settings(ctx: CallContext, args: EmptyInput) -> TenantSettingsOutput:
    return TenantSettingsOutput(settings=selectors.tenant_settings_get(tenant=ctx.tenant))


@operation(
    "tenant.updateTenantSettings",
    input=UpdateTenantSettingsInput,
    output=TenantSettingsOutput,
    permission=Permission.MANAGE_COMPANY,
    idempotent=True,
    title="Update tenant settings",
    description=(
        "Merge keys into the company's settings (a key set to null is removed) and return the "
        "result."
    ),
    examples=({"settings": {"greeting": "Willkommen bei Salon Sonnenschein", "legacy": None}},),
)
def update_tenant_settings(
    ctx: CallContext, args: UpdateTenantSettingsInput
) -> TenantSettingsOutput:
    settings = services.tenant_settings_update(
        tenant=ctx.tenant, actor=ctx.actor, changes=args.settings
    )
    return TenantSettingsOutput(settings=settings)


@operation(
    "tenant.getTenantQuota",
    input=EmptyInput,
    output=TenantQuotaOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get tenant quota",
    description=(
        "The limits of the plan in force (-1 = unlimited) and how much of each the company uses "
        "now."
    ),
)
def get_tenant_quota(ctx: CallContext, args: EmptyInput) -> TenantQuotaOutput:
    plan = effective_plan(ctx.tenant)
    usage = selectors.tenant_usage(tenant=ctx.tenant)
    return TenantQuotaOutput(
        plan=plan,
        limits=PlanLimitsOut(**asdict(plan_limits(plan))),
        usage=QuotaUsage(
            branches=usage.branches,
            max_staff_in_a_branch=usage.max_staff_in_a_branch,
            staff_by_branch=[
                StaffInBranch(branch_id=branch_id, staff=staff)
                for branch_id, staff in usage.staff_by_branch.items()
            ],
            bookings_this_month=usage.bookings_this_month,
            api_calls_this_hour=rate_limit_usage(tenant_id=ctx.tenant.pk),
        ),
    )


@operation(
    "tenant.getFeatureFlags",
    input=EmptyInput,
    output=FeatureFlagsOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get feature flags",
    description=(
        "Every feature flag and whether it is on for the caller's company; an answer changes only "
        "when an operator changes the flag."
    ),
)
def get_feature_flags(ctx: CallContext, args: EmptyInput) -> FeatureFlagsOutput:
    return FeatureFlagsOutput(
        flags=flags_for(tenant_id=ctx.tenant.pk, plan=effective_plan(ctx.tenant))
    )


@operation(
    "tenant.validateTenantAccess",
    input=EmptyInput,
    output=TenantAccessOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Validate tenant access",
    description="Check the API key: its company, its role and the permissions that role grants.",
)
def validate_tenant_access(ctx: CallContext, args: EmptyInput) -> TenantAccessOutput:
    return TenantAccessOutput(
        valid=True,
        tenant_id=ctx.tenant.pk,
        tenant_name=ctx.tenant.name,
        role=ctx.role,
        permissions=sorted(str(permission) for permission in ROLE_PERMISSIONS.get(ctx.role, ())),
    )
