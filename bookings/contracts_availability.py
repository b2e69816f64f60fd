"""Inputs and outputs of booking.checkAvailability and booking.getBookingSlots (docs/contract.md).

Dates are local dates of each branch ("YYYY-MM-DD"); times in outputs are ISO 8601 with the
branch's UTC offset, e.g. "2027-03-29T09:00:00+02:00".
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from bookings.availability import Slot
from mcp_core.operations import IsoDate, OperationInput, OperationOutput, after

MAX_SLOT_DAYS = 31
MAX_BRANCH_IDS = 100


Id = Annotated[int, Field(ge=1)]


class CheckAvailabilityInput(OperationInput):
    service_id: Id = Field(description="Id of one of the tenant's services.")
    date: IsoDate = Field(description="The day, as YYYY-MM-DD in the branch's local time.")
    branch_ids: list[Id] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_BRANCH_IDS,
        description="Only these branches; default every active branch offering the service.",
    )
    staff_id: Id | None = Field(default=None, description="Only this staff member.")


class GetBookingSlotsInput(OperationInput):
    service_id: Id = Field(description="Id of one of the tenant's services.")
    branch_id: Id = Field(description="Id of one of the tenant's branches.")
    start_date: IsoDate = Field(description="First day, YYYY-MM-DD in the branch's local time.")
    end_date: IsoDate | None = Field(
        default=None,
        description=f"Last day (inclusive); default start_date; at most {MAX_SLOT_DAYS} days.",
        json_schema_extra=after("start_date", max_days=MAX_SLOT_DAYS),
    )
    staff_id: Id | None = Field(default=None, description="Only this staff member.")

    @field_validator("end_date")
    @classmethod
    def _range(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("start_date")
        if value is None or not isinstance(start, dt.date):
            return value
        if value < start:
            raise PydanticCustomError("date_range", "Must not be before start_date.")
        if (value - start).days + 1 > MAX_SLOT_DAYS:
            raise PydanticCustomError(
                "date_range", "At most {days} days per request.", {"days": MAX_SLOT_DAYS}
            )
        return value


class SlotOut(OperationOutput):
    start: str = Field(description="ISO 8601 with the branch's UTC offset.")
    end: str = Field(description="ISO 8601 with the branch's UTC offset.")
    staff_id: int
    branch_id: int

    @classmethod
    def from_slot(cls, slot: Slot) -> SlotOut:
        return cls(**slot.as_dict())


class NextSlotOut(OperationOutput):
    start: str = Field(description="ISO 8601 with the branch's UTC offset.")
    staff_id: int
    branch_id: int


class CheckAvailabilityOutput(OperationOutput):
    available: bool = Field(description="Whether the day has at least one free slot.")
    slots: list[SlotOut] = Field(description="Free slots of the day by start, then staff id.")
    next_available: NextSlotOut | None = Field(
        description=(
            "The day's first slot when it has any; otherwise the first free slot after it "
            "within the booking window; null when there is none."
        )
    )


class BookingSlotsOutput(OperationOutput):
    slots: list[SlotOut] = Field(description="Free slots by start, then staff id.")
