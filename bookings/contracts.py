"""Inputs and outputs of the booking lifecycle operations (docs/contract.md).

Times in: ISO 8601 date and time; without an offset they are read in the branch's time zone.
Times out: ISO 8601 with the branch's UTC offset ("2027-03-29T09:00:00+02:00"). Dates are local
dates of the appointment's branch ("YYYY-MM-DD").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal, cast

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from bookings.models import Appointment
from mcp_core.models import AuditLog
from mcp_core.operations import (
    NOT_NULL,
    EmailOrEmpty,
    IsoDate,
    IsoDateTime,
    OperationInput,
    OperationOutput,
    PhoneText,
    after,
    given,
    page_field,
    page_size_field,
    when_given,
)

MIN_DURATION = 15
MAX_DURATION = 480

Id = Annotated[int, Field(ge=1)]
StartTime = IsoDateTime
Duration = Annotated[int, Field(ge=MIN_DURATION, le=MAX_DURATION)]
CustomerName = Annotated[str, StringConstraints(max_length=200)]
Email = EmailOrEmpty
Notes = Annotated[str, StringConstraints(max_length=2000)]
Status = Literal["pending", "confirmed", "cancelled", "completed", "no_show"]
SyncStatusName = Literal["not_required", "pending", "synced", "failed"]

_D_APPOINTMENT_ID = "Id of one of the tenant's appointments."
_D_START = (
    "Start as ISO 8601 date and time. Without an offset it is read in the branch's time zone "
    "('2027-03-29T09:00:00' = 9:00 at the branch)."
)
_D_DURATION = f"Minutes, {MIN_DURATION}–{MAX_DURATION}; default the service's duration."


# ---------------------------------------------------------------------------------- inputs


class CreateBookingInput(OperationInput):
    # The customer is named one way: an existing id, or the phone that finds or creates them.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                given("customer_id"),
                given("customer_phone", customer_phone={"minLength": 1}),
            ]
        }
    )

    service_id: Id = Field(description="Id of one of the tenant's services.")
    branch_id: Id = Field(description="Id of the branch where the appointment takes place.")
    start_time: StartTime = Field(description=_D_START)
    staff_id: Id | None = Field(
        default=None,
        description=(
            "The staff member to book. Left out: the best qualified staff member free at that "
            "time is chosen."
        ),
    )
    duration: Duration | None = Field(default=None, description=_D_DURATION)
    customer_id: Id | None = Field(
        default=None, description="An existing customer. Give this or customer_phone."
    )
    customer_phone: PhoneText | None = Field(
        default=None,
        description=(
            "The customer's phone number; the customer is found or created by it. German "
            "national formats such as '030 1234567' are accepted; stored in E.164."
        ),
    )
    customer_name: CustomerName = Field(
        default="", description="The customer's name; fills in a name not yet known."
    )
    customer_email: Email = Field(
        default="",
        description="E-mail address; fills in one not yet known. The confirmation goes here, "
        "else by SMS.",
    )
    notes: Notes = Field(default="", description="Free text for the staff member.")
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description=(
            "Any unique string. Repeating a call with the same key and arguments returns the "
            "first result and books nothing new; the same key with other arguments is a "
            "CONFLICT."
        ),
    )


class AppointmentIdInput(OperationInput):
    appointment_id: Id = Field(description=_D_APPOINTMENT_ID)


class CancelBookingInput(OperationInput):
    appointment_id: Id = Field(description=_D_APPOINTMENT_ID)
    reason: str = Field(default="", max_length=255, description="Why it was cancelled.")


class RescheduleBookingInput(OperationInput):
    appointment_id: Id = Field(description=_D_APPOINTMENT_ID)
    start_time: StartTime = Field(description="The new start. " + _D_START)
    staff_id: Id | None = Field(
        default=None,
        description="Move to this staff member of the same branch; default the current one.",
    )


class UpdateBookingInput(OperationInput):
    """Fields left out keep their value. Times are changed with booking.rescheduleBooking."""

    appointment_id: Id = Field(description=_D_APPOINTMENT_ID)
    notes: Annotated[
        Notes | None,
        NOT_NULL,
        Field(description="Free text for the staff member.", json_schema_extra=when_given),
    ] = None
    customer_name: Annotated[
        CustomerName | None,
        NOT_NULL,
        Field(description="The customer's name.", json_schema_extra=when_given),
    ] = None
    customer_email: Annotated[
        Email | None,
        NOT_NULL,
        Field(
            description="The customer's e-mail address; empty string clears it.",
            json_schema_extra=when_given,
        ),
    ] = None
    duration: Annotated[
        Duration | None,
        NOT_NULL,
        Field(
            description=f"New length in minutes, {MIN_DURATION}–{MAX_DURATION}; the start stays.",
            json_schema_extra=when_given,
        ),
    ] = None


# `x-excludes`: the fields named may not be sent together with this one (docs/contract.md).
EXCLUDES_RANGE: dict[str, Any] = {"x-excludes": ["date_from", "date_to"]}


class ListBookingsInput(OperationInput):
    # One local day, or a range; not both.
    model_config = ConfigDict(
        json_schema_extra={"not": {"anyOf": [given("date", "date_from"), given("date", "date_to")]}}
    )

    status: Status | None = Field(default=None, description="Only appointments in this status.")
    branch_id: Id | None = Field(default=None, description="Only this branch.")
    staff_id: Id | None = Field(default=None, description="Only this staff member.")
    customer_id: Id | None = Field(default=None, description="Only this customer.")
    date: IsoDate | None = Field(
        default=None,
        description="Only this local day (YYYY-MM-DD, the branch's date).",
        json_schema_extra=EXCLUDES_RANGE,
    )
    date_from: IsoDate | None = Field(
        default=None, description="Starting on or after this local day (YYYY-MM-DD)."
    )
    date_to: IsoDate | None = Field(
        default=None,
        description="Starting on or before this local day (YYYY-MM-DD).",
        json_schema_extra=after("date_from"),
    )
    page: int = page_field()
    page_size: int = page_size_field("Appointments")

    @field_validator("date_from", "date_to")
    @classmethod
    def _range(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        if value is None:
            return value
        if info.data.get("date") is not None:
            raise PydanticCustomError("date_range", "Give either date or date_from/date_to.")
        start = info.data.get("date_from")
        if info.field_name == "date_to" and isinstance(start, dt.date) and value < start:
            raise PydanticCustomError("date_range", "Must not be before date_from.")
        return value


# --------------------------------------------------------------------------------- outputs


def local_iso(value: dt.datetime, zone: dt.tzinfo) -> str:
    return value.astimezone(zone).isoformat()


class AppointmentOut(OperationOutput):
    id: int
    confirmation_number: str = Field(description="Read back to the caller, e.g. 'K7M-4RT'.")
    status: Status
    start_time: str = Field(description="ISO 8601 with the branch's UTC offset.")
    end_time: str = Field(description="ISO 8601 with the branch's UTC offset.")
    branch_id: int
    service_id: int
    staff_id: int
    customer_id: int
    sync_status: SyncStatusName = Field(description="State of the copy in the external calendar.")

    @classmethod
    def from_model(cls, appointment: Appointment, zone: dt.tzinfo) -> AppointmentOut:
        return cls(
            id=appointment.pk,
            confirmation_number=appointment.confirmation_number,
            status=cast(Status, appointment.status),
            start_time=local_iso(appointment.start_time, zone),
            end_time=local_iso(appointment.end_time, zone),
            branch_id=appointment.branch_id,
            service_id=appointment.service_id,
            staff_id=appointment.staff_id,
            customer_id=appointment.customer_id,
            sync_status=cast(SyncStatusName, appointment.sync_status),
        )


class CreateBookingOutput(OperationOutput):
    appointment: AppointmentOut
    confirmation_number: str
    notifications_sent: list[str] = Field(
        description="Channels the confirmation went out on ('email', 'sms'); may be empty."
    )


class AppointmentOutput(OperationOutput):
    appointment: AppointmentOut


class BookingListOutput(OperationOutput):
    bookings: list[AppointmentOut]
    count: int = Field(description="Appointments matching the filters, over all pages.")
    page: int
    next_page: int | None


class CustomerRef(OperationOutput):
    id: int
    name: str
    phone: str
    email: str


class NamedRef(OperationOutput):
    id: int
    name: str


class HistoryEntry(OperationOutput):
    at: str = Field(description="ISO 8601, UTC.")
    actor: str
    action: str = Field(description="e.g. 'appointment.created', 'appointment.rescheduled'.")
    changes: dict[str, Any]

    @classmethod
    def from_model(cls, row: AuditLog) -> HistoryEntry:
        return cls(
            at=row.created_at.astimezone(dt.UTC).isoformat(),
            actor=row.actor,
            action=row.action,
            changes=row.changes if isinstance(row.changes, dict) else {},
        )


class BookingDetailsOutput(OperationOutput):
    appointment: AppointmentOut
    customer: CustomerRef
    service: NamedRef
    staff: NamedRef
    branch: NamedRef
    duration: int = Field(description="Minutes.")
    price: Decimal = Field(description="EUR, gross.")
    notes: str
    source: str = Field(description="Where it was booked: phone, api, mcp or admin.")
    cancellation_reason: str
    created_at: str
    history: list[HistoryEntry] = Field(description="What happened to it, oldest first.")
