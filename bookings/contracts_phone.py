"""Input and output of booking.processPhoneBooking (docs/contract.md)."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from bookings.contracts import AppointmentOut, CustomerName, Id, NamedRef, StartTime
from bookings.contracts_availability import SlotOut
from mcp_core.operations import OperationInput, OperationOutput, PhoneText, given


class ProcessPhoneBookingInput(OperationInput):
    model_config = ConfigDict(json_schema_extra={"anyOf": [given("service"), given("service_id")]})

    caller_phone: PhoneText = Field(
        description="The number the caller calls from; the customer is found or created by it "
        "(stored in E.164).",
    )
    branch_id: Id = Field(description="The branch the call reached (from the dialled number).")
    start_time: StartTime = Field(
        description="The wished start, ISO 8601; without an offset it is branch time."
    )
    service: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The service as the caller said it ('Herrenschnitt', 'färben'): matched "
        "against names and synonyms, case and umlaut insensitive. Or give service_id.",
    )
    service_id: Id | None = Field(default=None, description="The service, when known by id.")
    staff: str | None = Field(
        default=None,
        max_length=200,
        description="The staff member the caller wishes ('Anna', 'bei Frau Schmidt'); 'egal', "
        "'egal wer' or 'irgendwer' mean anyone. A wished member who is not free gets their "
        "own free times first among the alternatives.",
    )
    staff_id: Id | None = Field(default=None, description="The staff member, when known by id.")
    notes: str = Field(
        default="",
        max_length=1000,
        description="What the caller said about the appointment ('bringe meinen Hund mit'); "
        "kept on the appointment.",
    )
    customer_name: CustomerName = Field(
        default="", description="The caller's name; fills in one not yet known."
    )
    call_id: str = Field(default="", max_length=100, description="Retell's call_id, linked.")
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Repeating the call with the same key and arguments books nothing new.",
    )
    alternatives: int = Field(
        default=3, ge=0, le=10, description="How many free times to offer when it is taken."
    )

    @model_validator(mode="after")
    def _service_given(self) -> ProcessPhoneBookingInput:
        if self.service is None and self.service_id is None:
            raise ValueError("Give service (what the caller said) or service_id.")
        return self


class ProcessPhoneBookingOutput(OperationOutput):
    booked: bool = Field(description="Whether the appointment was booked.")
    appointment: AppointmentOut | None
    confirmation_number: str | None = Field(description="Read back to the caller.")
    notifications_sent: list[str] = Field(
        description="Channels the confirmation went out on ('sms', 'email')."
    )
    service: NamedRef = Field(description="The service the caller's words were matched to.")
    staff: NamedRef | None = Field(description="Who the appointment is with, when booked.")
    wished_staff: NamedRef | None = Field(
        default=None, description="The staff member the caller asked for, when they named one."
    )
    refusal: str | None = Field(description="Why the wished time could not be booked.")
    alternatives: list[SlotOut] = Field(
        description="When not booked: the free times nearest the wished one, earliest first; "
        "with a wished staff member, theirs first, then a colleague's."
    )
