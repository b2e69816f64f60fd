"""Inputs and outputs of the tenant.* operations (docs/contract.md).

The input models are the operations' MCP inputSchema and OpenAPI request bodies, so every field
says what it means. They check shapes and ranges; the services check meaning (time zones, phone
numbers, opening hours), so admin and command-line callers get the same rules.

Update inputs are partial: a field left out keeps its value. Such fields default to None only to
mark "not given" (`model_fields_set` tells what was sent); an explicit null is refused for
fields that cannot be empty, and the schema shows them as their plain type.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, WithJsonSchema

from mcp_core.operations import (
    NO_NUL,
    NOT_NULL,
    EmailOrEmpty,
    OperationInput,
    OperationOutput,
    PhoneOrEmpty,
    TimeZoneText,
    iso,
    page_field,
    page_size_field,
    plain_json,
    when_given,
)
from tenants.hours import WEEK_HOURS_SCHEMA
from tenants.models import Branch, Company
from tenants.settings_limits import (
    BRANCH_MINUTE_SETTINGS,
    SETTINGS_MAX_DEPTH,
    SETTINGS_MAX_KEY_LENGTH,
    SETTINGS_MAX_KEYS,
)


def _no_default(schema: dict[str, Any]) -> None:
    # None marks "not given" here; null sent explicitly is a value (it clears the field).
    schema.pop("default", None)


BranchName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Address = Annotated[str, StringConstraints(max_length=255)]
PostalCode = Annotated[str, StringConstraints(max_length=10)]
City = Annotated[str, StringConstraints(max_length=100)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]
PhoneInput = PhoneOrEmpty
EmailInput = EmailOrEmpty
TimeZoneName = TimeZoneText
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")]
TenantName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
JsonObject = dict[str, Any]


def _settings_schema(known: dict[str, Any]) -> dict[str, Any]:
    # Options are free JSON two levels deep at most (SETTINGS_MAX_DEPTH counts the settings
    # object itself); null removes a key.
    return {
        "type": "object",
        "maxProperties": SETTINGS_MAX_KEYS,
        "propertyNames": {"minLength": 1, "maxLength": SETTINGS_MAX_KEY_LENGTH, "pattern": NO_NUL},
        "properties": known,
        "additionalProperties": plain_json(SETTINGS_MAX_DEPTH - 1),
    }


_MINUTES = {
    name: {"type": ["integer", "null"], "minimum": low, "maximum": high}
    for name, (low, high) in BRANCH_MINUTE_SETTINGS.items()
}
TenantSettings = Annotated[JsonObject, WithJsonSchema(_settings_schema({}))]
BranchSettings = Annotated[JsonObject, WithJsonSchema(_settings_schema(_MINUTES))]
WeekHoursObject = Annotated[JsonObject, WithJsonSchema(WEEK_HOURS_SCHEMA)]

_D_PHONE = (
    "Phone number; stored in E.164 (German national formats such as '030 1234567' accepted). "
    "Empty string clears it."
)
_D_EMAIL = "E-mail address; empty string clears it."
_D_TIME_ZONE = "IANA time zone, e.g. 'Europe/Berlin'."
_D_HOURS = (
    "Opening hours per weekday in the branch's local time: "
    '{"monday": {"open": "09:00", "close": "18:00", "is_open": true}, ..., '
    '"sunday": {"is_open": false}}. Days left out are closed; times are 24-hour HH:MM and '
    "'close' must be after 'open'."
)
_D_BRANCH_ID = "Id of one of the tenant's branches."


# ---------------------------------------------------------------------------------- inputs


class UpdateTenantInput(OperationInput):
    """Fields left out keep their value."""

    name: Annotated[
        TenantName | None,
        NOT_NULL,
        Field(description="Company name as shown to callers.", json_schema_extra=when_given),
    ] = None
    email: Annotated[
        EmailInput | None,
        NOT_NULL,
        Field(description=_D_EMAIL, json_schema_extra=when_given),
    ] = None
    phone: Annotated[
        PhoneInput | None,
        NOT_NULL,
        Field(description=_D_PHONE, json_schema_extra=when_given),
    ] = None
    default_language: Annotated[
        Language | None,
        NOT_NULL,
        Field(
            description="Language the AI receptionist speaks by default, e.g. 'de' or 'en'.",
            json_schema_extra=when_given,
        ),
    ] = None
    time_zone: Annotated[
        TimeZoneName | None,
        NOT_NULL,
        Field(
            description=_D_TIME_ZONE + " Used for monthly quotas and as new branches' default.",
            json_schema_extra=when_given,
        ),
    ] = None


class ListBranchesInput(OperationInput):
    active: bool | None = Field(
        default=None, description="Only active (true) or only inactive (false) branches."
    )
    city: str | None = Field(
        default=None,
        max_length=100,
        description="Only branches whose city contains this text (case-insensitive).",
    )
    page: int = page_field()
    page_size: int = page_size_field("Branches")


class BranchIdInput(OperationInput):
    branch_id: int = Field(description=_D_BRANCH_ID)


class CreateBranchInput(OperationInput):
    name: BranchName = Field(description="Branch name, unique within the tenant (any case).")
    address: Address = Field(default="", description="Street and house number.")
    postal_code: PostalCode = Field(default="", description="Postal code, e.g. '10115'.")
    city: City = Field(default="", description="City, e.g. 'Berlin'.")
    country: Country = Field(default="DE", description="ISO 3166-1 alpha-2 country code.")
    phone: PhoneInput = Field(default="", description=_D_PHONE)
    email: EmailInput = Field(default="", description=_D_EMAIL)
    latitude: Latitude | None = Field(
        default=None, description="Latitude in degrees (-90..90), for nearest-branch routing."
    )
    longitude: Longitude | None = Field(
        default=None, description="Longitude in degrees (-180..180)."
    )
    time_zone: TimeZoneName | None = Field(
        default=None, description=_D_TIME_ZONE + " Defaults to the tenant's time zone."
    )
    business_hours: WeekHoursObject | None = Field(
        default=None,
        description=_D_HOURS + " Defaults to Mon–Fri 09:00–18:00, Sat 09:00–14:00.",
    )
    settings: BranchSettings = Field(
        default_factory=dict,
        description=(
            "Branch settings, merged over the defaults "
            '{"slot_interval_minutes": 30, "min_notice_minutes": 60}.'
        ),
    )


class UpdateBranchInput(OperationInput):
    """Fields left out keep their value."""

    branch_id: int = Field(description=_D_BRANCH_ID)
    name: Annotated[
        BranchName | None,
        NOT_NULL,
        Field(
            description="Branch name, unique within the tenant (any case).",
            json_schema_extra=when_given,
        ),
    ] = None
    address: Annotated[
        Address | None,
        NOT_NULL,
        Field(description="Street and house number.", json_schema_extra=when_given),
    ] = None
    postal_code: Annotated[
        PostalCode | None,
        NOT_NULL,
        Field(description="Postal code.", json_schema_extra=when_given),
    ] = None
    city: Annotated[
        City | None,
        NOT_NULL,
        Field(description="City.", json_schema_extra=when_given),
    ] = None
    country: Annotated[
        Country | None,
        NOT_NULL,
        Field(description="ISO 3166-1 alpha-2 country code.", json_schema_extra=when_given),
    ] = None
    phone: Annotated[
        PhoneInput | None,
        NOT_NULL,
        Field(description=_D_PHONE, json_schema_extra=when_given),
    ] = None
    email: Annotated[
        EmailInput | None,
        NOT_NULL,
        Field(description=_D_EMAIL, json_schema_extra=when_given),
    ] = None
    latitude: Latitude | None = Field(
        default=None,
        description="Latitude in degrees (-90..90); null clears it.",
        json_schema_extra=_no_default,
    )
    longitude: Longitude | None = Field(
        default=None,
        description="Longitude in degrees (-180..180); null clears it.",
        json_schema_extra=_no_default,
    )
    time_zone: Annotated[
        TimeZoneName | None,
        NOT_NULL,
        Field(description=_D_TIME_ZONE, json_schema_extra=when_given),
    ] = None
    business_hours: Annotated[
        WeekHoursObject | None,
        NOT_NULL,
        Field(description=_D_HOURS + " Replaces the whole week.", json_schema_extra=when_given),
    ] = None
    settings: Annotated[
        BranchSettings | None,
        NOT_NULL,
        Field(
            description="Keys to merge into the branch settings; a key set to null is removed.",
            json_schema_extra=when_given,
        ),
    ] = None


class UpdateTenantSettingsInput(OperationInput):
    settings: TenantSettings = Field(
        description=(
            "Keys to merge into the tenant settings; a key set to null is removed. "
            "The result may hold at most 100 keys of at most 64 characters, 16 KiB of JSON."
        )
    )


# --------------------------------------------------------------------------------- outputs


class PlanLimitsOut(OperationOutput):
    branches: int = Field(description="-1 means unlimited.")
    staff_per_branch: int = Field(description="-1 means unlimited.")
    monthly_bookings: int = Field(description="-1 means unlimited.")
    api_calls_per_hour: int


class TenantProfile(OperationOutput):
    id: int
    name: str
    slug: str
    email: str
    phone: str
    time_zone: str
    default_language: str
    is_active: bool
    created_at: str
    updated_at: str

    @classmethod
    def from_model(cls, company: Company) -> TenantProfile:
        return cls(
            id=company.pk,
            name=company.name,
            slug=company.slug,
            email=company.email,
            phone=company.phone,
            time_zone=company.time_zone,
            default_language=company.default_language,
            is_active=company.is_active,
            created_at=iso(company.created_at) or "",
            updated_at=iso(company.updated_at) or "",
        )


class SubscriptionOut(OperationOutput):
    plan: str | None = Field(description="The subscribed plan; null without a subscription.")
    status: str | None
    effective_plan: str = Field(
        description="The plan whose limits and features apply now (basic while lapsed)."
    )
    current_period_end: str | None
    features: dict[str, bool]


class BranchSummary(OperationOutput):
    id: int
    name: str
    city: str
    is_active: bool


class BranchesSummary(OperationOutput):
    total: int
    active: int
    items: list[BranchSummary]


class TenantOverview(OperationOutput):
    """tenant.getTenant; also what the tenant cache holds (as JSON)."""

    tenant: TenantProfile
    subscription: SubscriptionOut
    limits: PlanLimitsOut
    branches: BranchesSummary


class TenantProfileOutput(OperationOutput):
    tenant: TenantProfile


class BranchOut(OperationOutput):
    id: int
    uuid: str
    name: str
    address: str
    postal_code: str
    city: str
    country: str
    phone: str
    email: str
    latitude: float | None
    longitude: float | None
    time_zone: str
    business_hours: JsonObject
    is_active: bool
    settings: JsonObject
    created_at: str
    updated_at: str

    @classmethod
    def from_model(cls, branch: Branch) -> BranchOut:
        return cls(
            id=branch.pk,
            uuid=str(branch.uuid),
            name=branch.name,
            address=branch.address,
            postal_code=branch.postal_code,
            city=branch.city,
            country=branch.country,
            phone=branch.phone,
            email=branch.email,
            latitude=float(branch.latitude) if branch.latitude is not None else None,
            longitude=float(branch.longitude) if branch.longitude is not None else None,
            time_zone=branch.time_zone,
            business_hours=branch.business_hours,
            is_active=branch.is_active,
            settings=branch.settings,
            created_at=iso(branch.created_at) or "",
            updated_at=iso(branch.updated_at) or "",
        )


class BranchOutput(OperationOutput):
    branch: BranchOut


class BranchListOutput(OperationOutput):
    branches: list[BranchOut]
    count: int = Field(description="Branches matching the filters, over all pages.")
    page: int
    next_page: int | None


class TenantSettingsOutput(OperationOutput):
    settings: JsonObject


class FeatureFlagsOutput(OperationOutput):
    flags: dict[str, bool] = Field(
        description="Every feature flag and whether it is on for the caller's company now."
    )


class StaffInBranch(OperationOutput):
    branch_id: int
    staff: int = Field(description="Active staff members of the branch.")


class QuotaUsage(OperationOutput):
    branches: int
    max_staff_in_a_branch: int
    staff_by_branch: list[StaffInBranch]
    bookings_this_month: int = Field(
        description="Appointments created this calendar month (tenant's time zone), any status."
    )
    api_calls_this_hour: int


class TenantQuotaOutput(OperationOutput):
    plan: str = Field(description="The plan whose limits apply now.")
    limits: PlanLimitsOut
    usage: QuotaUsage


class TenantAccessOutput(OperationOutput):
    valid: bool
    tenant_id: int
    tenant_name: str
    role: str
    permissions: list[str] = Field(description="What the key's role may do, sorted.")
