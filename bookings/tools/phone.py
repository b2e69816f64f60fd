"""booking.processPhoneBooking (declared here, registered on import)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bookings.contracts import AppointmentOut, NamedRef
from bookings.contracts_availability import SlotOut
from bookings.contracts_phone import ProcessPhoneBookingInput, ProcessPhoneBookingOutput
from bookings.phone_booking import phone_booking_process
from mcp_core.operations import CallContext, operation
from mcp_core.permissions import Permission


@operation(
    "booking.processPhoneBooking",
    input=ProcessPhoneBookingInput,
    output=ProcessPhoneBookingOutput,
    permission=Permission.CREATE_BOOKINGS,
    open_world=True,
    title="Process phone booking",
    description=(
        "Book what a caller asked for on the phone: the customer by the caller's number, the "
        "service and staff member by what they said. When the time cannot be booked nothing is "
        "written, booked is false and alternatives lists the nearest free times."
    ),
    examples=(
        {
            "caller_phone": "+4915112345678",
            "branch_id": 1,
            "start_time": "2027-03-30T14:30:00",
            "service": "Herrenschnitt",
            "customer_name": "Max Mustermann",
            "call_id": "call_8f3a",
        },
    ),
)
def process_phone_booking(
    ctx: CallContext, args: ProcessPhoneBookingInput
) -> ProcessPhoneBookingOutput:
    result = phone_booking_process(
        tenant=ctx.tenant,
        actor=ctx.actor,
        **args.model_dump(),
    )
    service = NamedRef(id=result.service.pk, name=result.service.name)
    if result.booked is None:
        return ProcessPhoneBookingOutput(
            booked=False,
            appointment=None,
            confirmation_number=None,
            notifications_sent=[],
            service=service,
            staff=None,
            wished_staff=(
                NamedRef(id=result.wished_staff.pk, name=result.wished_staff.name)
                if result.wished_staff is not None
                else None
            ),
            refusal=result.refusal,
            alternatives=[SlotOut.from_slot(slot) for slot in result.alternatives],
        )
    appointment = result.booked.appointment
    out = AppointmentOut.from_model(appointment, ZoneInfo(appointment.branch.time_zone))
    return ProcessPhoneBookingOutput(
        booked=True,
        appointment=out,
        confirmation_number=out.confirmation_number,
        notifications_sent=result.booked.notifications_sent,
        service=service,
        staff=NamedRef(id=appointment.staff_id, name=appointment.staff.name),
        refusal=None,
        alternatives=[],
    )
