"""The `customer` service's operations (declared here, registered on import).

Reading customers needs ACCESS_MCP, creating and changing them MANAGE_CUSTOMERS; exporting and
erasing a person's data (GDPR) ERASE_PERSONAL_DATA, which only the owner role has.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.utils import timezone

from bookings import customer_selectors as selectors
from bookings import services
from bookings.customer_contracts import (
    ConsentsOut,
    CustomerBookingOut,
    CustomerBookingsOutput,
    CustomerErasureOutput,
    CustomerExportOutput,
    CustomerIdInput,
    CustomerIdsInput,
    CustomerListOutput,
    CustomerOut,
    CustomerOutput,
    CustomersByIdOutput,
    ExportedAppointment,
    ExportedAuditEntry,
    ExportedCall,
    FindCustomerInput,
    ListCustomerBookingsInput,
    UpsertCustomerInput,
    UpsertCustomerOutput,
)
from bookings.customer_selectors import CustomerData
from bookings.models import Appointment
from bookings.services import ErasureResult
from mcp_core.operations import CallContext, iso, operation
from mcp_core.permissions import Permission


def _local(value: dt.datetime, appointment: Appointment) -> str:
    return value.astimezone(zoneinfo.ZoneInfo(appointment.branch.time_zone)).isoformat()


def export_output(data: CustomerData, *, exported_at: dt.datetime) -> CustomerExportOutput:
    """The export document; also what `manage.py gdpr_export` prints."""
    customer = data.customer
    return CustomerExportOutput(
        exported_at=exported_at.isoformat(),
        tenant_id=customer.tenant_id,
        customer=CustomerOut.from_model(customer),
        consents=ConsentsOut(
            sms_consent=customer.sms_consent,
            marketing_consent=customer.marketing_consent,
            consent_updated_at=iso(customer.consent_updated_at),
        ),
        appointments=[
            ExportedAppointment(
                id=appointment.pk,
                confirmation_number=appointment.confirmation_number,
                status=appointment.status,
                start_time=_local(appointment.start_time, appointment),
                end_time=_local(appointment.end_time, appointment),
                branch_id=appointment.branch_id,
                branch_name=appointment.branch.name,
                service_id=appointment.service_id,
                service_name=appointment.service.name,
                staff_id=appointment.staff_id,
                staff_name=appointment.staff.name,
                price=f"{appointment.price:.2f}",
                source=appointment.source,
                notes=appointment.notes,
                cancellation_reason=appointment.cancellation_reason,
                cancelled_at=iso(appointment.cancelled_at),
                confirmed_at=iso(appointment.confirmed_at),
                created_at=iso(appointment.created_at) or "",
            )
            for appointment in data.appointments
        ],
        call_logs=[_call(call) for call in data.call_logs],
        audit_entries=[
            ExportedAuditEntry(
                created_at=iso(entry.created_at) or "",
                actor=entry.actor,
                action=entry.action,
                object_type=entry.object_type,
                object_id=entry.object_id,
                changes=entry.changes or {},
            )
            for entry in data.audit_entries
        ],
    )


def _call(call: Any) -> ExportedCall:
    return ExportedCall(
        call_id=call.call_id,
        branch_id=call.branch_id,
        from_number=call.from_number,
        to_number=call.to_number,
        direction=call.direction,
        status=call.status,
        outcome=call.outcome,
        language=call.language,
        started_at=iso(call.started_at),
        ended_at=iso(call.ended_at),
        duration_seconds=call.duration_seconds,
        transcript=call.transcript,
        analysis=call.analysis or {},
        appointment_id=call.appointment_id,
    )


def erasure_output(result: ErasureResult) -> CustomerErasureOutput:
    """The erasure report; also what `manage.py gdpr_erase` prints."""
    return CustomerErasureOutput(
        customer_id=result.customer.pk,
        erased_at=iso(result.customer.erased_at) or "",
        already_erased=result.already_erased,
        appointments_kept=result.appointments_kept,
        call_logs_scrubbed=result.call_logs_scrubbed,
        audit_entries_redacted=result.audit_entries_redacted,
    )


@operation(
    "customer.getCustomer",
    input=CustomerIdInput,
    output=CustomerOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get customer",
    description=(
        "One customer with contact details, consents and notes; erased_at is set once their "
        "personal data was erased."
    ),
    examples=({"customer_id": 1},),
)
def get_customer(ctx: CallContext, args: CustomerIdInput) -> CustomerOutput:
    customer = selectors.customer_get(tenant=ctx.tenant, customer_id=args.customer_id)
    return CustomerOutput(customer=CustomerOut.from_model(customer))


@operation(
    "customer.getCustomers",
    input=CustomerIdsInput,
    output=CustomersByIdOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get customers",
    description=(
        "Several customers by id (at most 100), as customer.getCustomer gives each; ids that "
        "are not the tenant's customers are left out."
    ),
    examples=({"customer_ids": [1, 2]},),
)
def get_customers(ctx: CallContext, args: CustomerIdsInput) -> CustomersByIdOutput:
    customers = selectors.customer_list_by_ids(tenant=ctx.tenant, customer_ids=args.customer_ids)
    return CustomersByIdOutput(customers=[CustomerOut.from_model(c) for c in customers])


@operation(
    "customer.findCustomer",
    input=FindCustomerInput,
    output=CustomerListOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Find customer",
    description=(
        "Look customers up by phone number, part of the name or the whole e-mail address; criteria "
        "given together must all match. At most 20, by name."
    ),
    examples=({"phone": "0151 12345678"}, {"name": "müller"}),
)
def find_customer(ctx: CallContext, args: FindCustomerInput) -> CustomerListOutput:
    customers = selectors.customer_find(
        tenant=ctx.tenant, phone=args.phone, name=args.name, email=args.email
    )
    return CustomerListOutput(
        customers=[CustomerOut.from_model(customer) for customer in customers],
        count=len(customers),
    )


@operation(
    "customer.upsertCustomer",
    input=UpsertCustomerInput,
    output=UpsertCustomerOutput,
    permission=Permission.MANAGE_CUSTOMERS,
    idempotent=True,
    title="Create or update customer",
    description=(
        "Find the customer with this phone number or create them, then set the fields given; "
        "fields left out keep their value. A changed consent records when it changed."
    ),
    examples=({"phone": "0151 12345678", "name": "Erika Mustermann", "sms_consent": True},),
)
def upsert_customer(ctx: CallContext, args: UpsertCustomerInput) -> UpsertCustomerOutput:
    result = services.customer_upsert(
        tenant=ctx.tenant, actor=ctx.actor, **args.model_dump(exclude_unset=True)
    )
    return UpsertCustomerOutput(
        customer=CustomerOut.from_model(result.customer), created=result.created
    )


@operation(
    "customer.listCustomerBookings",
    input=ListCustomerBookingsInput,
    output=CustomerBookingsOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="List customer bookings",
    description="A customer's appointments, latest first, optionally of one status; paginated.",
    examples=({"customer_id": 1, "status": "confirmed"},),
)
def list_customer_bookings(
    ctx: CallContext, args: ListCustomerBookingsInput
) -> CustomerBookingsOutput:
    page = selectors.customer_bookings_page(
        tenant=ctx.tenant,
        customer_id=args.customer_id,
        status=args.status,
        page=args.page,
        page_size=args.page_size,
    )
    return CustomerBookingsOutput(
        bookings=[CustomerBookingOut.from_appointment(item) for item in page.items],
        count=page.count,
        page=page.page,
        next_page=page.next_page,
    )


@operation(
    "customer.exportCustomerData",
    input=CustomerIdInput,
    output=CustomerExportOutput,
    permission=Permission.ERASE_PERSONAL_DATA,
    title="Export customer data (GDPR)",
    description=(
        "Everything held on one person as JSON (GDPR right of access): profile, consents, "
        "appointments, calls and the audit trail about them. Owner only; the export itself is "
        "audited."
    ),
    examples=({"customer_id": 1},),
)
def export_customer_data(ctx: CallContext, args: CustomerIdInput) -> CustomerExportOutput:
    data = services.customer_data_export(
        tenant=ctx.tenant, actor=ctx.actor, customer_id=args.customer_id
    )
    return export_output(data, exported_at=timezone.now())


@operation(
    "customer.eraseCustomerData",
    input=CustomerIdInput,
    output=CustomerErasureOutput,
    permission=Permission.ERASE_PERSONAL_DATA,
    idempotent=True,
    destructive=True,
    title="Erase customer data (GDPR)",
    description=(
        "Erase a person's personal data for good (GDPR right to erasure); their appointments stay, "
        "anonymised, for the statistics. Cannot be undone; owner only."
    ),
    examples=({"customer_id": 1},),
)
def erase_customer_data(ctx: CallContext, args: CustomerIdInput) -> CustomerErasureOutput:
    result = services.customer_erase(
        tenant=ctx.tenant, actor=ctx.actor, customer_id=args.customer_id
    )
    return erasure_output(result)
