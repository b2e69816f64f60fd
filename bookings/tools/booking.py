"""The `booking` service's operations (declared here, registered on import)."""

from __future__ import annotations

import datetime as dt
from typing import cast
from zoneinfo import ZoneInfo

from bookings import availability, selectors, services
from bookings.contracts import (
    AppointmentIdInput,
    AppointmentOut,
    AppointmentOutput,
    BookingDetailsOutput,
    BookingListOutput,
    CancelBookingInput,
    CreateBookingInput,
    CreateBookingOutput,
    CustomerRef,
    HistoryEntry,
    ListBookingsInput,
    NamedRef,
    RescheduleBookingInput,
    UpdateBookingInput,
)
from bookings.contracts_availability import (
    BookingSlotsOutput,
    CheckAvailabilityInput,
    CheckAvailabilityOutput,
    GetBookingSlotsInput,
    NextSlotOut,
    SlotOut,
)
from bookings.enums import AppointmentSource
from bookings.models import Appointment
from mcp_core.operations import CallContext, operation
from mcp_core.permissions import Permission
from staff.errors import ServiceNotFound, StaffNotFound
from staff.models import Service, Staff
from tenants.errors import BranchNotFound
from tenants.models import Branch, Company

# ------------------------------------------------------------------------- availability (reads)


@operation(
    "booking.checkAvailability",
    input=CheckAvailabilityInput,
    output=CheckAvailabilityOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Check availability",
    description=(
        "Free slots for a service on one day, over the branches offering it and their qualified "
        "staff; call it before booking.createBooking. When the day has none, next_available is the "
        "first free slot after it."
    ),
    examples=(
        {"service_id": 1, "date": "2027-03-29"},
        {"service_id": 1, "date": "2027-03-29", "staff_id": 2},
    ),
)
def check_availability(ctx: CallContext, args: CheckAvailabilityInput) -> CheckAvailabilityOutput:
    service = _service(ctx.tenant, args.service_id)
    if args.branch_ids is not None:
        _require_branches(ctx.tenant, args.branch_ids)
    if args.staff_id is not None:
        _require_staff(ctx.tenant, args.staff_id)
    slots = availability.find_slots(
        tenant=ctx.tenant,
        service=service,
        date_from=args.date,
        date_to=args.date,
        branch_ids=args.branch_ids,
        staff_id=args.staff_id,
    )
    first: availability.Slot | None = slots[0] if slots else None
    if first is None:
        # The day has no slot in any branch, so the first one found from its start is after it.
        found = availability.next_available(
            tenant=ctx.tenant,
            service=service,
            after=dt.datetime.combine(args.date, dt.time.min, tzinfo=dt.UTC),
            branch_ids=args.branch_ids,
            staff_id=args.staff_id,
        )
        first = found[0] if found else None
    return CheckAvailabilityOutput(
        available=bool(slots),
        slots=[SlotOut.from_slot(slot) for slot in slots],
        next_available=None
        if first is None
        else NextSlotOut(
            start=first.start.isoformat(), staff_id=first.staff_id, branch_id=first.branch_id
        ),
    )


@operation(
    "booking.getBookingSlots",
    input=GetBookingSlotsInput,
    output=BookingSlotsOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get booking slots",
    description=(
        "Free slots for a service at one branch over a range of days, for every qualified staff "
        "member or one. Use it to offer a caller several days; for one day over every branch use "
        "booking.checkAvailability."
    ),
    examples=(
        {"service_id": 1, "branch_id": 1, "start_date": "2027-03-29", "end_date": "2027-04-02"},
    ),
)
def get_booking_slots(ctx: CallContext, args: GetBookingSlotsInput) -> BookingSlotsOutput:
    service = _service(ctx.tenant, args.service_id)
    _require_branches(ctx.tenant, [args.branch_id])
    if args.staff_id is not None:
        _require_staff(ctx.tenant, args.staff_id)
    slots = availability.find_slots(
        tenant=ctx.tenant,
        service=service,
        date_from=args.start_date,
        date_to=args.end_date or args.start_date,
        branch_ids=[args.branch_id],
        staff_id=args.staff_id,
    )
    return BookingSlotsOutput(slots=[SlotOut.from_slot(slot) for slot in slots])


def _service(tenant: Company, service_id: int) -> Service:
    service = Service.objects.for_tenant(tenant).filter(pk=service_id).first()
    if service is None:
        raise ServiceNotFound(
            f"Service {service_id} not found.", details={"service_id": service_id}
        )
    return service


def _require_branches(tenant: Company, branch_ids: list[int]) -> None:
    known = set(
        Branch.objects.for_tenant(tenant).filter(pk__in=branch_ids).values_list("pk", flat=True)
    )
    missing = sorted(set(branch_ids) - known)
    if missing:
        raise BranchNotFound(
            f"Branch {', '.join(map(str, missing))} not found.", details={"branch_ids": missing}
        )


def _require_staff(tenant: Company, staff_id: int) -> None:
    if not Staff.objects.for_tenant(tenant).filter(pk=staff_id).exists():
        raise StaffNotFound(f"Staff member {staff_id} not found.", details={"staff_id": staff_id})


# ------------------------------------------------------------------------- booking lifecycle


def _appointment_out(appointment: Appointment) -> AppointmentOut:
    return AppointmentOut.from_model(appointment, ZoneInfo(appointment.branch.time_zone))


@operation(
    "booking.createBooking",
    input=CreateBookingInput,
    output=CreateBookingOutput,
    permission=Permission.CREATE_BOOKINGS,
    open_world=True,
    title="Create booking",
    description=(
        "Book a service at a branch for a customer (found or created by phone number) at a free "
        "time found with booking.checkAvailability. It is confirmed at once (read "
        "confirmation_number back to the caller); a time taken meanwhile is a CONFLICT whose "
        "details.next_available lists the next free slots."
    ),
    examples=(
        {
            "service_id": 1,
            "branch_id": 1,
            "start_time": "2027-03-29T09:00:00",
            "customer_phone": "030 1234567",
            "customer_name": "Erika Mustermann",
        },
        {
            "service_id": 1,
            "branch_id": 1,
            "staff_id": 2,
            "start_time": "2027-03-29T14:30:00+02:00",
            "customer_id": 7,
            "duration": 45,
            "idempotency_key": "call_8f3a-booking-1",
        },
    ),
)
def create_booking(ctx: CallContext, args: CreateBookingInput) -> CreateBookingOutput:
    created = services.booking_create(
        tenant=ctx.tenant,
        actor=ctx.actor,
        source=services.SOURCE_BY_FRONT_DOOR.get(ctx.source, AppointmentSource.API),
        **args.model_dump(),
    )
    appointment = _appointment_out(created.appointment)
    return CreateBookingOutput(
        appointment=appointment,
        confirmation_number=appointment.confirmation_number,
        notifications_sent=created.notifications_sent,
    )


@operation(
    "booking.updateBooking",
    input=UpdateBookingInput,
    output=AppointmentOutput,
    permission=Permission.MANAGE_BOOKINGS,
    idempotent=True,
    title="Update booking",
    description=(
        "Change an appointment's notes or duration, or its customer's name or e-mail; fields left "
        "out keep their value. To move it in time use booking.rescheduleBooking."
    ),
    examples=({"appointment_id": 12, "notes": "Bringt eigenes Shampoo mit", "duration": 45},),
)
def update_booking(ctx: CallContext, args: UpdateBookingInput) -> AppointmentOutput:
    changes = cast(
        services.BookingChanges, args.model_dump(exclude_unset=True, exclude={"appointment_id"})
    )
    appointment = services.booking_update(
        tenant=ctx.tenant, actor=ctx.actor, appointment_id=args.appointment_id, changes=changes
    )
    return AppointmentOutput(appointment=_appointment_out(appointment))


@operation(
    "booking.cancelBooking",
    input=CancelBookingInput,
    output=AppointmentOutput,
    permission=Permission.CANCEL_BOOKINGS,
    destructive=True,
    title="Cancel booking",
    description=(
        "Cancel a pending or confirmed appointment, freeing its time. One already cancelled, "
        "completed or a no-show is a CONFLICT."
    ),
    examples=({"appointment_id": 12, "reason": "Kundin ist krank"},),
)
def cancel_booking(ctx: CallContext, args: CancelBookingInput) -> AppointmentOutput:
    appointment = services.booking_cancel(
        tenant=ctx.tenant, actor=ctx.actor, appointment_id=args.appointment_id, reason=args.reason
    )
    return AppointmentOutput(appointment=_appointment_out(appointment))


@operation(
    "booking.rescheduleBooking",
    input=RescheduleBookingInput,
    output=AppointmentOutput,
    permission=Permission.MANAGE_BOOKINGS,
    idempotent=True,
    title="Reschedule booking",
    description=(
        "Move a pending or confirmed appointment to a new start time, optionally to another staff "
        "member of its branch, keeping its duration and confirmation number. On any error nothing "
        "changes; a time taken is a CONFLICT whose details.next_available lists the next free "
        "slots."
    ),
    examples=({"appointment_id": 12, "start_time": "2027-03-30T10:00:00"},),
)
def reschedule_booking(ctx: CallContext, args: RescheduleBookingInput) -> AppointmentOutput:
    appointment = services.booking_reschedule(
        tenant=ctx.tenant,
        actor=ctx.actor,
        appointment_id=args.appointment_id,
        start_time=args.start_time,
        staff_id=args.staff_id,
    )
    return AppointmentOutput(appointment=_appointment_out(appointment))


@operation(
    "booking.confirmBooking",
    input=AppointmentIdInput,
    output=AppointmentOutput,
    permission=Permission.MANAGE_BOOKINGS,
    title="Confirm booking",
    description="Confirm a pending appointment; any other status is a CONFLICT.",
    examples=({"appointment_id": 12},),
)
def confirm_booking(ctx: CallContext, args: AppointmentIdInput) -> AppointmentOutput:
    appointment = services.booking_confirm(
        tenant=ctx.tenant, actor=ctx.actor, appointment_id=args.appointment_id
    )
    return AppointmentOutput(appointment=_appointment_out(appointment))


@operation(
    "booking.getBookingDetails",
    input=AppointmentIdInput,
    output=BookingDetailsOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get booking details",
    description="One appointment in full, with its history of changes (what, who and when).",
    examples=({"appointment_id": 12},),
)
def get_booking_details(ctx: CallContext, args: AppointmentIdInput) -> BookingDetailsOutput:
    appointment = selectors.booking_get(tenant=ctx.tenant, appointment_id=args.appointment_id)
    history = selectors.booking_history(tenant=ctx.tenant, appointment_id=appointment.pk)
    customer = appointment.customer
    minutes = (appointment.end_time - appointment.start_time).total_seconds() // 60
    return BookingDetailsOutput(
        appointment=_appointment_out(appointment),
        customer=CustomerRef(
            id=customer.pk, name=customer.name, phone=customer.phone, email=customer.email
        ),
        service=NamedRef(id=appointment.service_id, name=appointment.service.name),
        staff=NamedRef(id=appointment.staff_id, name=appointment.staff.name),
        branch=NamedRef(id=appointment.branch_id, name=appointment.branch.name),
        duration=int(minutes),
        price=appointment.price,
        notes=appointment.notes,
        source=appointment.source,
        cancellation_reason=appointment.cancellation_reason,
        created_at=appointment.created_at.isoformat(),
        history=[HistoryEntry.from_model(row) for row in history],
    )


@operation(
    "booking.listBookings",
    input=ListBookingsInput,
    output=BookingListOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="List bookings",
    description=(
        "The company's appointments by start time, filtered by status, branch, staff member, "
        "customer or local day; paginated."
    ),
    examples=(
        {"date": "2027-03-29", "branch_id": 1},
        {"customer_id": 7, "status": "confirmed", "page_size": 50},
    ),
)
def list_bookings(ctx: CallContext, args: ListBookingsInput) -> BookingListOutput:
    page = selectors.booking_list_page(
        tenant=ctx.tenant,
        status=args.status,
        branch_id=args.branch_id,
        staff_id=args.staff_id,
        customer_id=args.customer_id,
        date_from=args.date or args.date_from,
        date_to=args.date or args.date_to,
        page=args.page,
        page_size=args.page_size,
    )
    return BookingListOutput(
        bookings=[_appointment_out(appointment) for appointment in page.items],
        count=page.count,
        page=page.page,
        next_page=page.next_page,
    )
