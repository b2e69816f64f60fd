"""Inputs and outputs of the staff.* operations (docs/contract.md).

The input models are the operations' MCP inputSchema and OpenAPI request bodies, so every field
says what it means to an agent. They check shapes and ranges; `staff.services` checks meaning
(HH:MM times, breaks inside their period, overlaps, the tenant's ids), so admin and
command-line callers get the same rules.

Datetimes in outputs carry the UTC offset of the staff member's branch
(`2027-03-29T09:00:00+02:00`); dates are `YYYY-MM-DD`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from mcp_core.operations import (
    DISJOINT,
    INSIDE_PARENT,
    IsoDate,
    IsoDateTime,
    OperationInput,
    OperationOutput,
    after,
    page_field,
    page_size_field,
)
from staff.enums import TimeBlockKind
from staff.models import Staff
from staff.services import MAX_BLOCK_DAYS

MAX_AVAILABILITY_DAYS = 31
MAX_WORKLOAD_DAYS = 31
MAX_PERFORMANCE_DAYS = 366
PERFORMANCE_DEFAULT_DAYS = 30
MAX_PERIODS_PER_DAY = 6
MAX_BREAKS_PER_PERIOD = 6
HH_MM_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"

_D_STAFF_ID = "Id of one of the tenant's staff members."
_D_SERVICE_ID = "Id of one of the tenant's services."
_D_NAIVE = (
    "ISO 8601. Without a UTC offset it is read in the staff member's branch time zone "
    "(Europe/Berlin for the usual branch)."
)

HhMm = Annotated[
    str,
    Field(
        description="24-hour local time HH:MM, e.g. '09:00'.",
        json_schema_extra={"pattern": HH_MM_PATTERN},
    ),
]
SkillLevel = Annotated[int, Field(ge=1, le=5)]


def check_date_range(start: dt.date | None, end: dt.date | None, max_days: int) -> None:
    """Raises ValueError unless start ≤ end and the range spans at most `max_days` days."""
    if start is None or end is None:
        return
    if end < start:
        raise ValueError("must not be before the start date")
    if (end - start).days + 1 > max_days:
        raise ValueError(f"the range may span at most {max_days} days")


# ---------------------------------------------------------------------------------- inputs


class ListStaffInput(OperationInput):
    branch_id: int | None = Field(default=None, description="Only staff of this branch.")
    service_id: int | None = Field(
        default=None, description="Only staff qualified for this service (any skill level)."
    )
    active: bool | None = Field(
        default=None,
        description="Only active (true) or only inactive (false) staff; all if left out.",
    )
    page: int = page_field()
    page_size: int = page_size_field("Staff members")


class ListServicesInput(OperationInput):
    branch_id: int | None = Field(
        default=None,
        description=(
            "Only services offered at this branch (a service with no branches of its own is "
            "offered at all of them); staff_ids then name that branch's staff only."
        ),
    )
    active: bool | None = Field(
        default=None,
        description="Only bookable (true) or only retired (false) services; all if left out.",
    )


class StaffAvailabilityInput(OperationInput):
    staff_id: int = Field(description=_D_STAFF_ID)
    start_date: IsoDate = Field(description="First day, YYYY-MM-DD (branch's local date).")
    end_date: IsoDate | None = Field(
        default=None,
        description=(
            f"Last day, YYYY-MM-DD; defaults to start_date. At most {MAX_AVAILABILITY_DAYS} "
            "days in all."
        ),
        json_schema_extra=after("start_date", max_days=MAX_AVAILABILITY_DAYS),
    )
    service_id: int | None = Field(
        default=None,
        description=(
            "Cut free time into slots of this service's length (with its buffers); without "
            "it, slots follow the branch's slot interval."
        ),
    )

    @field_validator("end_date")
    @classmethod
    def _range(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        check_date_range(info.data.get("start_date"), value, MAX_AVAILABILITY_DAYS)
        return value


EndHhMm = Annotated[HhMm, Field(json_schema_extra=after("start", strict=True))]


class BreakIn(OperationInput):
    start: HhMm
    end: EndHhMm


class PeriodIn(OperationInput):
    start: HhMm
    end: EndHhMm
    breaks: list[BreakIn] = Field(
        default_factory=list,
        max_length=MAX_BREAKS_PER_PERIOD,
        description="Unbookable pauses inside the period; they must not overlap.",
        json_schema_extra=DISJOINT | INSIDE_PARENT,
    )


_D_DAY = "Working periods of this weekday; left out or [] means a day off."


class WeekScheduleIn(OperationInput):
    monday: list[PeriodIn] = Field(
        default_factory=list,
        max_length=MAX_PERIODS_PER_DAY,
        description=_D_DAY,
        json_schema_extra=DISJOINT,
    )
    tuesday: list[PeriodIn] = Field(
        default_factory=list,
        max_length=MAX_PERIODS_PER_DAY,
        description=_D_DAY,
        json_schema_extra=DISJOINT,
    )
    wednesday: list[PeriodIn] = Field(
        default_factory=list,
        max_length=MAX_PERIODS_PER_DAY,
        description=_D_DAY,
        json_schema_extra=DISJOINT,
    )
    thursday: list[PeriodIn] = Field(
        default_factory=list,
        max_length=MAX_PERIODS_PER_DAY,
        description=_D_DAY,
        json_schema_extra=DISJOINT,
    )
    friday: list[PeriodIn] = Field(
        default_factory=list,
        max_length=MAX_PERIODS_PER_DAY,
        description=_D_DAY,
        json_schema_extra=DISJOINT,
    )
    saturday: list[PeriodIn] = Field(
        default_factory=list,
        max_length=MAX_PERIODS_PER_DAY,
        description=_D_DAY,
        json_schema_extra=DISJOINT,
    )
    sunday: list[PeriodIn] = Field(
        default_factory=list,
        max_length=MAX_PERIODS_PER_DAY,
        description=_D_DAY,
        json_schema_extra=DISJOINT,
    )


class UpdateStaffScheduleInput(OperationInput):
    staff_id: int = Field(description=_D_STAFF_ID)
    schedule: WeekScheduleIn = Field(
        description=(
            "The whole new week, replacing the old one, in the branch's local time: "
            '{"monday": [{"start": "09:00", "end": "18:00", "breaks": [{"start": "12:30", '
            '"end": "13:00"}]}], ...}. Periods of one day must not overlap; each end must be '
            "after its start; breaks must lie inside their period."
        )
    )


class FindAvailableStaffInput(OperationInput):
    service_id: int = Field(description=_D_SERVICE_ID)
    start_time: IsoDateTime = Field(
        description=(
            "Wanted start, ISO 8601. Without a UTC offset it is read in the time zone of the "
            "first branch in branch_ids, or of the tenant (Europe/Berlin by default)."
        )
    )
    branch_ids: list[int] | None = Field(
        default=None,
        max_length=50,
        description="Only staff of these branches; all branches offering the service if left out.",
    )
    duration: int | None = Field(
        default=None,
        ge=15,
        le=480,
        description="Minutes, 15–480; defaults to the service's duration.",
    )


class AssignStaffToServiceInput(OperationInput):
    staff_id: int = Field(description=_D_STAFF_ID)
    service_id: int = Field(description=_D_SERVICE_ID)
    skill_level: SkillLevel = Field(
        default=3, description="1 (junior) – 5 (master); default 3. Re-assigning updates it."
    )


class StaffWorkloadInput(OperationInput):
    staff_id: int | None = Field(default=None, description="Only this staff member.")
    branch_id: int | None = Field(default=None, description="Only active staff of this branch.")
    date_from: IsoDate = Field(description="First day, YYYY-MM-DD.")
    date_to: IsoDate = Field(
        description=f"Last day, YYYY-MM-DD; at most {MAX_WORKLOAD_DAYS} days in all.",
        json_schema_extra=after("date_from", max_days=MAX_WORKLOAD_DAYS),
    )

    @field_validator("date_to")
    @classmethod
    def _range(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        check_date_range(info.data.get("date_from"), value, MAX_WORKLOAD_DAYS)
        return value


class SkillIn(OperationInput):
    service_id: int = Field(description=_D_SERVICE_ID)
    skill_level: SkillLevel = Field(description="1 (junior) – 5 (master).")


class UpdateStaffSkillsInput(OperationInput):
    staff_id: int = Field(description=_D_STAFF_ID)
    skills: list[SkillIn] = Field(
        min_length=1,
        max_length=100,
        description=(
            "New skill levels; a listed service the staff member is not yet qualified for is "
            "added. Services not listed keep their level. Each service at most once."
        ),
        json_schema_extra={"x-unique-by": "service_id"},
    )


class StaffPerformanceInput(OperationInput):
    staff_id: int = Field(description=_D_STAFF_ID)
    date_from: IsoDate | None = Field(
        default=None,
        description=(
            f"First day, YYYY-MM-DD; defaults to {PERFORMANCE_DEFAULT_DAYS - 1} days before "
            "date_to (the last 30 days)."
        ),
    )
    date_to: IsoDate | None = Field(
        default=None,
        description=(
            f"Last day, YYYY-MM-DD; defaults to today in the branch's time zone. At most "
            f"{MAX_PERFORMANCE_DAYS} days in all."
        ),
        json_schema_extra=after("date_from", max_days=MAX_PERFORMANCE_DAYS),
    )

    @field_validator("date_to")
    @classmethod
    def _range(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        check_date_range(info.data.get("date_from"), value, MAX_PERFORMANCE_DAYS)
        return value


class BlockStaffTimeInput(OperationInput):
    staff_id: int = Field(description=_D_STAFF_ID)
    start_time: IsoDateTime = Field(description="Start of the block. " + _D_NAIVE)
    end_time: IsoDateTime = Field(
        description="End of the block, after start_time. " + _D_NAIVE,
        json_schema_extra=after("start_time", strict=True, max_days=MAX_BLOCK_DAYS),
    )
    kind: TimeBlockKind = Field(
        default=TimeBlockKind.MANUAL, description="Why the time is blocked."
    )
    reason: str = Field(default="", max_length=255, description="Free text for the team.")


# --------------------------------------------------------------------------------- outputs


class StaffServiceOut(OperationOutput):
    service_id: int
    name: str
    skill_level: int = Field(description="1 (junior) – 5 (master).")


class StaffOut(OperationOutput):
    id: int
    name: str
    branch_id: int
    email: str
    phone: str
    languages: list[str]
    is_active: bool
    rating: float = Field(description="Average customer rating, 0–5.")
    services: list[StaffServiceOut] = Field(description="Qualifications, by service name.")

    @classmethod
    def from_model(cls, staff: Staff) -> StaffOut:
        """Expects `skills__service` prefetched (the staff selectors do)."""
        return cls(
            id=staff.pk,
            name=staff.name,
            branch_id=staff.branch_id,
            email=staff.email,
            phone=staff.phone,
            languages=list(staff.languages or []),
            is_active=staff.is_active,
            rating=float(staff.rating),
            services=services_of(staff),
        )


def services_of(staff: Staff) -> list[StaffServiceOut]:
    return [
        StaffServiceOut(
            service_id=skill.service_id, name=skill.service.name, skill_level=skill.skill_level
        )
        for skill in staff.skills.all()
    ]


class ServiceOut(OperationOutput):
    id: int = Field(description="The service_id that booking operations take.")
    name: str
    duration: int = Field(description="Minutes.")
    price: Decimal = Field(description="EUR, gross.")
    buffer_before: int = Field(description="Minutes kept free before each appointment.")
    buffer_after: int = Field(description="Minutes kept free after each appointment.")
    branch_ids: list[int] = Field(
        description="Branches offering it; a service with no branches of its own lists all."
    )
    staff_ids: list[int] = Field(description="Active staff members qualified for it.")


class ServiceListOutput(OperationOutput):
    services: list[ServiceOut] = Field(description="By name.")


class StaffListOutput(OperationOutput):
    staff: list[StaffOut]
    count: int = Field(description="Staff members matching the filters, over all pages.")
    page: int
    next_page: int | None


class TimeRangeOut(OperationOutput):
    start: str
    end: str


class SlotOut(OperationOutput):
    start: str
    end: str
    staff_id: int
    branch_id: int


class StaffDayOut(OperationOutput):
    date: str
    working_hours: list[TimeRangeOut] = Field(
        description="Bookable working time: working hours minus breaks, within opening hours."
    )
    free_slots: list[SlotOut] = Field(
        description="Free starts: of the service when service_id is given, else free windows."
    )
    total_available_minutes: int = Field(
        description="Free working minutes: working time minus blocked and booked time."
    )
    booked_minutes: int = Field(
        description="Working minutes taken by pending or confirmed appointments (with buffers)."
    )
    utilisation: float = Field(description="booked ÷ (booked + available), 0–1.")


class StaffRef(OperationOutput):
    id: int
    name: str
    branch_id: int
    time_zone: str


class StaffAvailabilityOutput(OperationOutput):
    staff: StaffRef
    start_date: str
    end_date: str
    days: list[StaffDayOut] = Field(description="Every day of the range, in order.")
    total_available_minutes: int
    total_booked_minutes: int
    utilisation: float = Field(description="booked ÷ (booked + available) over the range, 0–1.")


class BreakOut(OperationOutput):
    start: str
    end: str


class PeriodOut(OperationOutput):
    start: str
    end: str
    breaks: list[BreakOut]


class WeekScheduleOut(OperationOutput):
    monday: list[PeriodOut]
    tuesday: list[PeriodOut]
    wednesday: list[PeriodOut]
    thursday: list[PeriodOut]
    friday: list[PeriodOut]
    saturday: list[PeriodOut]
    sunday: list[PeriodOut]


class ConflictingAppointmentOut(OperationOutput):
    id: int
    confirmation_number: str
    start_time: str
    end_time: str
    status: str


class StaffScheduleOutput(OperationOutput):
    staff_id: int
    schedule: WeekScheduleOut
    conflicting_appointments: list[ConflictingAppointmentOut] = Field(
        description=(
            "Pending or confirmed future appointments that no longer fit the new hours. They "
            "are kept as they are: move or cancel them with the booking operations."
        )
    )


class RecommendationOut(OperationOutput):
    staff_id: int
    name: str
    skill_level: int
    rating: float
    completed_services: int = Field(description="Completed appointments (any service).")
    score: float = Field(
        description="0–100: 60 % skill level, 30 % rating, 10 % experience (capped at 50)."
    )
    reasons: list[str]


class FindAvailableStaffOutput(OperationOutput):
    start_time: str = Field(description="The wanted start as understood, with its UTC offset.")
    end_time: str
    staff: list[StaffOut] = Field(description="Qualified and free, best first.")
    recommendations: list[RecommendationOut] = Field(
        description="The same staff in the same order (skill, then rating, then experience)."
    )
    count: int


class StaffServicesOutput(OperationOutput):
    staff_id: int
    services: list[StaffServiceOut]


class WorkloadOut(OperationOutput):
    staff_id: int
    name: str
    branch_id: int
    appointments: int = Field(
        description="Appointments starting in the range that were not cancelled."
    )
    booked_minutes: int = Field(
        description=(
            "Working minutes taken by appointments (with buffers): pending and confirmed ones, "
            "and those that took place (completed, no-show)."
        )
    )
    available_minutes: int = Field(description="Free working minutes (blocks off).")
    utilisation: float = Field(description="booked ÷ (booked + available), 0–1.")


class StaffWorkloadOutput(OperationOutput):
    date_from: str
    date_to: str
    staff: list[WorkloadOut]


class StaffPerformanceOutput(OperationOutput):
    staff_id: int
    name: str
    date_from: str
    date_to: str
    bookings: int = Field(description="Appointments starting in the range, any status.")
    completed: int
    no_shows: int
    cancellations: int
    revenue: str = Field(description="EUR, sum of the prices of completed appointments.")
    currency: Literal["EUR"] = "EUR"
    utilisation: float = Field(
        description="booked ÷ (booked + available) working minutes, as in getStaffWorkload."
    )
    completion_rate: float = Field(description="completed / bookings, 0–1; 0 without bookings.")


class TimeBlockOut(OperationOutput):
    id: int
    staff_id: int
    start_time: str
    end_time: str
    kind: str
    reason: str


class BlockStaffTimeOutput(OperationOutput):
    time_block: TimeBlockOut
    conflicting_appointments: list[ConflictingAppointmentOut] = Field(
        description=(
            "Pending or confirmed appointments overlapping the block. They are kept as they "
            "are: move or cancel them with the booking operations."
        )
    )
