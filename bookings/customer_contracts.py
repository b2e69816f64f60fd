"""Inputs and outputs of the customer.* operations (docs/contract.md).

The input models check shapes; `bookings.services.customers` checks meaning (phone numbers,
e-mail addresses, the tenant's ids), so the GDPR commands get the same rules. Update fields
are partial, as in `tenants.contracts`: a field left out keeps its value.

Datetimes carry the UTC offset of the appointment's branch (profile timestamps: UTC).
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from bookings.contracts import AppointmentOut, Status
from bookings.enums import AppointmentStatus
from bookings.models import Appointment, Customer
from mcp_core.operations import (
    NON_EMPTY,
    NOT_NULL,
    EmailOrEmpty,
    OperationInput,
    OperationOutput,
    PhoneText,
    given,
    iso,
    page_field,
    page_size_field,
    when_given,
)

FIND_LIMIT = 20

_D_CUSTOMER_ID = "Id of one of the tenant's customers."
_D_PHONE = (
    "Phone number; stored and matched in E.164 (German national formats such as "
    "'030 1234567' or '0151 1234567' accepted)."
)

PhoneInput = PhoneText
NameInput = Annotated[str, StringConstraints(max_length=200)]
EmailInput = EmailOrEmpty
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")]


# ---------------------------------------------------------------------------------- inputs


class CustomerIdInput(OperationInput):
    customer_id: int = Field(description=_D_CUSTOMER_ID)


MAX_CUSTOMER_IDS = 100


class CustomerIdsInput(OperationInput):
    customer_ids: list[Annotated[int, Field(ge=1)]] = Field(
        min_length=1,
        max_length=MAX_CUSTOMER_IDS,
        description=f"Ids of the tenant's customers, at most {MAX_CUSTOMER_IDS}.",
    )


class FindCustomerInput(OperationInput):
    """At least one of phone, name, email; given together they must all match."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [given("phone"), given("name"), given("email", email=NON_EMPTY)]
        }
    )

    phone: PhoneInput | None = Field(
        default=None, description=_D_PHONE + " Matches the whole number."
    )
    name: Annotated[str, StringConstraints(min_length=2, max_length=200)] | None = Field(
        default=None, description="Part of the name, any case (at least 2 characters)."
    )
    email: Annotated[str, StringConstraints(max_length=254)] | None = Field(
        default=None, description="The whole address, any case."
    )

    @model_validator(mode="after")
    def _one_given(self) -> FindCustomerInput:
        if self.phone is None and self.name is None and self.email is None:
            raise ValueError("give at least one of phone, name, email")
        return self


class UpsertCustomerInput(OperationInput):
    """Found by phone number; fields left out keep their value (or their default when new)."""

    phone: PhoneInput = Field(description=_D_PHONE + " Identifies the customer.")
    name: Annotated[
        NameInput | None,
        NOT_NULL,
        Field(description="Full name; empty string clears it.", json_schema_extra=when_given),
    ] = None
    email: Annotated[
        EmailInput | None,
        NOT_NULL,
        Field(description="E-mail address; empty string clears it.", json_schema_extra=when_given),
    ] = None
    language: Annotated[
        Language | None,
        NOT_NULL,
        Field(
            description="Language to speak and write to them, e.g. 'de' or 'en'.",
            json_schema_extra=when_given,
        ),
    ] = None
    sms_consent: Annotated[
        bool | None,
        NOT_NULL,
        Field(description="Whether they agreed to SMS reminders.", json_schema_extra=when_given),
    ] = None
    marketing_consent: Annotated[
        bool | None,
        NOT_NULL,
        Field(
            description="Whether they agreed to marketing messages.",
            json_schema_extra=when_given,
        ),
    ] = None


class ListCustomerBookingsInput(OperationInput):
    customer_id: int = Field(description=_D_CUSTOMER_ID)
    status: Status | None = Field(
        default=None,
        description="Only appointments in this status: " + ", ".join(AppointmentStatus.values),
    )
    page: int = page_field()
    page_size: int = page_size_field("Appointments")


# --------------------------------------------------------------------------------- outputs


class CustomerOut(OperationOutput):
    id: int
    phone: str = Field(description="E.164; 'erased:<id>' once the personal data was erased.")
    name: str
    email: str
    language: str
    sms_consent: bool
    marketing_consent: bool
    consent_updated_at: str | None
    notes: str
    erased_at: str | None = Field(description="When the personal data was erased (GDPR).")
    created_at: str
    updated_at: str

    @classmethod
    def from_model(cls, customer: Customer) -> CustomerOut:
        return cls(
            id=customer.pk,
            phone=customer.phone,
            name=customer.name,
            email=customer.email,
            language=customer.language,
            sms_consent=customer.sms_consent,
            marketing_consent=customer.marketing_consent,
            consent_updated_at=iso(customer.consent_updated_at),
            notes=customer.notes,
            erased_at=iso(customer.erased_at),
            created_at=iso(customer.created_at) or "",
            updated_at=iso(customer.updated_at) or "",
        )


class CustomerOutput(OperationOutput):
    customer: CustomerOut


class UpsertCustomerOutput(OperationOutput):
    customer: CustomerOut
    created: bool = Field(description="True when no customer had this phone number.")


class CustomersByIdOutput(OperationOutput):
    customers: list[CustomerOut] = Field(
        description="Those of the ids that are the tenant's customers, by id; others are left out."
    )


class CustomerListOutput(OperationOutput):
    customers: list[CustomerOut] = Field(description=f"At most {FIND_LIMIT}, by name.")
    count: int


class CustomerBookingOut(AppointmentOut):
    """The appointment as booking.listBookings shows it, with names and price."""

    branch_name: str
    service_name: str
    staff_name: str
    price: str = Field(description="EUR, gross.")

    @classmethod
    def from_appointment(cls, appointment: Appointment) -> CustomerBookingOut:
        """Expects branch, service and staff selected with the appointment."""
        base = AppointmentOut.from_model(appointment, ZoneInfo(appointment.branch.time_zone))
        return cls(
            **base.model_dump(),
            branch_name=appointment.branch.name,
            service_name=appointment.service.name,
            staff_name=appointment.staff.name,
            price=f"{appointment.price:.2f}",
        )


class CustomerBookingsOutput(OperationOutput):
    bookings: list[CustomerBookingOut] = Field(description="Latest start first.")
    count: int
    page: int
    next_page: int | None


class ConsentsOut(OperationOutput):
    sms_consent: bool
    marketing_consent: bool
    consent_updated_at: str | None


class ExportedAppointment(OperationOutput):
    id: int
    confirmation_number: str
    status: str
    start_time: str
    end_time: str
    branch_id: int
    branch_name: str
    service_id: int
    service_name: str
    staff_id: int
    staff_name: str
    price: str
    source: str
    notes: str
    cancellation_reason: str
    cancelled_at: str | None
    confirmed_at: str | None
    created_at: str


class ExportedCall(OperationOutput):
    call_id: str
    branch_id: int | None
    from_number: str
    to_number: str
    direction: str
    status: str
    outcome: str
    language: str
    started_at: str | None
    ended_at: str | None
    duration_seconds: int | None
    transcript: str
    analysis: dict[str, Any]
    appointment_id: int | None


class ExportedAuditEntry(OperationOutput):
    created_at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    changes: dict[str, Any]


class CustomerExportOutput(OperationOutput):
    """Everything held on one person (GDPR Art. 15 / 20)."""

    exported_at: str
    tenant_id: int
    customer: CustomerOut
    consents: ConsentsOut
    appointments: list[ExportedAppointment]
    call_logs: list[ExportedCall] = Field(
        description="Calls linked to the customer or made from their phone number."
    )
    audit_entries: list[ExportedAuditEntry] = Field(
        description="Changes recorded about the customer and their appointments."
    )


class CustomerErasureOutput(OperationOutput):
    customer_id: int
    erased_at: str
    already_erased: bool = Field(description="True when an earlier erasure had done it.")
    appointments_kept: int = Field(
        description="Appointments kept for statistics (status, price, times), notes removed."
    )
    call_logs_scrubbed: int = Field(description="Calls whose number and transcript were removed.")
    audit_entries_redacted: int
