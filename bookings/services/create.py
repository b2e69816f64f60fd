"""Creating a booking: `booking_create` checks and normalises the request, then runs the booking
saga outside any transaction.

    reserve        booking_reserve                 the point of no return (pivot)
    calendar_sync  booking_calendar_deliver        rolled forward, never undone
    notifications  booking_notification_deliver    rolled forward, never undone

The reserve step (`bookings.services.reserve`) writes the appointment and its outbox messages in
one transaction; the later steps (`bookings.services.side_effects`) only deliver those messages
inline (the outbox retries them when that fails), so the response can say `synced` and which
channels confirmed the booking. A failed delivery does not fail the booking.

The saga is declared once, at import of this module (every process imports it with
`bookings.services`, so each knows its steps for crash recovery). Its steps below only
translate the saga's JSON context into one service call each. No step holds a transaction open
while the next one runs. Once the reserve step has committed, the booking stands: a later step
that fails or a process that dies is rolled forward (recovery runs the step again, which leaves
the message to the outbox while another attempt holds it), never compensated
(docs/architecture.md, "Sagas"). A step that only found the idempotency key's earlier booking
(`replayed`) makes the later steps skip: that booking had its own run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.utils import timezone

from bookings import availability, calendar
from bookings.customer_selectors import customer_get
from bookings.enums import AppointmentSource, AppointmentStatus, SyncStatus
from bookings.errors import SlotNotBookable, SlotTaken
from bookings.models import Appointment, Customer
from bookings.selectors import booking_get, booking_notified_channels
from bookings.services.conflicts import check_slot, next_slots, slot_taken
from bookings.services.customers import customer_fill_in, customer_id_by_phone
from bookings.services.reserve import (
    Reservation,
    ReservationRequest,
    booking_reserve,
    check_quota,
    key_reused,
)
from bookings.services.side_effects import (
    booking_calendar_deliver,
    booking_notification_deliver,
)
from common.errors import ApplicationError, TransactionFailed, ValidationFailed
from common.phone import InvalidPhoneNumber, normalize_phone
from mcp_core.saga import Saga, SagaContext, Step
from staff.models import Service, StaffService
from tenants.models import Branch, Company

Errors = dict[str, list[str]]

MAX_STAFF_CANDIDATES = 5  # auto-assignment tries this many free staff members when racing


@dataclass(frozen=True)
class CreatedBooking:
    appointment: Appointment  # with its branch
    notifications_sent: list[str]
    replayed: bool  # an earlier call's booking, returned for its idempotency key


def booking_create(
    *,
    tenant: Company,
    actor: str,
    source: str,
    service_id: int,
    branch_id: int,
    start_time: dt.datetime,
    staff_id: int | None = None,
    duration: int | None = None,
    customer_id: int | None = None,
    customer_phone: str | None = None,
    customer_name: str = "",
    customer_email: str = "",
    notes: str = "",
    idempotency_key: str | None = None,
    call_id: str = "",
) -> CreatedBooking:
    """Book `service` at `branch` from `start_time` (naive: branch time) for a customer given by
    id or by phone (found or created), with `staff_id` or the best qualified free staff member.

    Checks, before anything is written: the branch, service, staff member and customer exist
    for this tenant; the phone and e-mail are valid; the idempotency key (the first booking is
    returned for the same arguments); the monthly quota; the availability rules. Then runs the
    booking saga; call it outside `transaction.atomic` (no transaction may span its steps).

    Raises ValidationFailed / SlotNotBookable (400, per field), BranchNotFound /
    ServiceNotFound / StaffNotFound / NotFound for the customer (404), QuotaExceeded (403),
    SlotTaken (409, details.next_available), Conflict (409: idempotency key used with other
    arguments) and ServiceUnavailable (503) when the call's time budget ran out before the
    appointment was committed (nothing of the booking written). Once it is committed the
    booking is returned, whatever its calendar copy and confirmation did: they are retried
    through the outbox, whose messages are written with the appointment.
    """
    errors: Errors = {}
    subjects = availability.booking_subjects(
        tenant=tenant, branch_id=branch_id, service_id=service_id, staff_id=staff_id
    )
    branch, service, staff = subjects.branch, subjects.service, subjects.staff
    if staff is not None and staff.branch_id != branch.pk:
        errors["staff_id"] = ["This staff member works at another branch."]
    phone = (customer_phone or "").strip()
    normalized_phone = ""
    if customer_id is not None and phone:
        errors["customer_phone"] = ["Give either customer_id or customer_phone, not both."]
    elif customer_id is None and not phone:
        errors["customer_phone"] = ["Give customer_phone (or customer_id)."]
    elif phone:
        try:
            normalized_phone = normalize_phone(phone)
        except InvalidPhoneNumber as exc:
            errors["customer_phone"] = [str(exc)]
    email = customer_email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["customer_email"] = ["Enter a valid e-mail address."]
    if errors:
        raise ValidationFailed("The booking request is not valid.", details=errors)
    known_customer = (
        customer_get(tenant=tenant, customer_id=customer_id) if customer_id is not None else None
    )

    zone = ZoneInfo(branch.time_zone)
    start = start_time if timezone.is_aware(start_time) else start_time.replace(tzinfo=zone)
    start = start.astimezone(zone)
    minutes = duration if duration is not None else service.duration_minutes
    fingerprint = _fingerprint(
        service_id=service.pk,
        branch_id=branch.pk,
        start=start.astimezone(dt.UTC),
        staff_id=staff_id,
        duration=duration,
        customer_id=customer_id,
        customer_phone=normalized_phone or None,
        customer_name=customer_name.strip(),
        customer_email=email,
        notes=notes,
    )
    if idempotency_key is not None:
        replay = _replay_by_key(tenant, idempotency_key, fingerprint)
        if replay is not None:
            return replay
    check_quota(tenant, lock=False)
    try:
        return _book(
            tenant=tenant,
            actor=actor,
            source=source,
            subjects=subjects,
            start=start,
            minutes=minutes,
            known_customer=known_customer,
            phone=normalized_phone,
            customer_name=customer_name,
            email=email,
            notes=notes,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            call_id=call_id,
        )
    except SlotTaken:
        # A concurrent call with the same key may have taken the slot: that is our booking.
        replay = _replay_by_key(tenant, idempotency_key, fingerprint) if idempotency_key else None
        if replay is None:
            raise
        return replay


def _book(
    *,
    tenant: Company,
    actor: str,
    source: str,
    subjects: availability.BookingSubjects,
    start: dt.datetime,
    minutes: int,
    known_customer: Customer | None,
    phone: str,
    customer_name: str,
    email: str,
    notes: str,
    idempotency_key: str | None,
    fingerprint: str,
    call_id: str,
) -> CreatedBooking:
    """The checks that need the availability engine, the customer, then the saga."""
    branch, service, staff = subjects.branch, subjects.service, subjects.staff
    if staff is not None:
        check_slot(
            tenant=tenant,
            service=service,
            branch=branch,
            staff=staff,
            start=start,
            minutes=minutes,
            offer=subjects.offer,
        )
        staff_ids = [staff.pk]
    else:
        _check_time_window(start)
        candidates = availability.find_available_staff(
            tenant=tenant,
            service=service,
            start=start,
            branch_ids=[branch.pk],
            duration_minutes=minutes,
        )
        if not candidates:
            raise _nobody_free(tenant, service, branch, start, minutes)
        staff_ids = [candidate.pk for candidate in candidates[:MAX_STAFF_CANDIDATES]]

    if known_customer is not None:
        customer_id = known_customer.pk
        customer_fill_in(
            tenant=tenant,
            actor=actor,
            customer_id=customer_id,
            known=(known_customer.name, known_customer.email),
            name=customer_name.strip()[:200],
            email=email,
        )
    else:
        customer_id = customer_id_by_phone(
            tenant=tenant, actor=actor, normalized=phone, name=customer_name, email=email
        )
    backend = calendar.get_calendar_backend()
    request = ReservationRequest(
        actor=actor,
        source=source,
        service_id=service.pk,
        branch_id=branch.pk,
        staff_ids=staff_ids,
        staff_requested=staff is not None,
        start=start.astimezone(dt.UTC),
        duration=minutes,
        buffer_before=service.buffer_before_minutes,
        buffer_after=service.buffer_after_minutes,
        price=service.price,
        customer_id=customer_id,
        notes=notes,
        call_id=call_id,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        sync_status=SyncStatus.PENDING
        if calendar.requires_sync(backend, tenant=tenant, service_id=service.pk)
        else SyncStatus.NOT_REQUIRED,
    )
    results = _run_booking_saga(tenant, request)
    reservation = Reservation.from_result(results["reserve"])
    if reservation.replayed:
        appointment = booking_get(tenant=tenant, appointment_id=reservation.appointment_id)
        channels = booking_notified_channels(tenant=tenant, appointment_id=appointment.pk)
        return CreatedBooking(appointment=appointment, notifications_sent=channels, replayed=True)
    # The row as the reserve step wrote it and the calendar step left it, without reading it back.
    appointment = Appointment(
        pk=reservation.appointment_id,
        tenant=tenant,
        branch=branch,
        service=service,
        staff_id=reservation.staff_id,
        customer_id=customer_id,
        start_time=request.start,
        end_time=request.end,
        occupied_start=request.occupied[0],
        occupied_end=request.occupied[1],
        status=AppointmentStatus.CONFIRMED,
        confirmation_number=reservation.confirmation_number,
        source=source,
        call_id=call_id,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        sync_status=results.get("calendar_sync", {}).get("sync_status", request.sync_status),
        price=service.price,
        notes=notes,
    )
    sent = results.get("notifications", {}).get("sent", [])
    return CreatedBooking(appointment=appointment, notifications_sent=list(sent), replayed=False)


def _run_booking_saga(tenant: Company, request: ReservationRequest) -> dict[str, dict[str, Any]]:
    """Run the saga; a refusal of the reserve step (slot taken, quota, key reused) is raised as
    itself, anything else as the saga's TransactionFailed."""
    try:
        return booking_create_saga.run(tenant=tenant, context=request.to_context()).results
    except TransactionFailed as exc:
        cause = exc.__cause__
        if isinstance(cause, ApplicationError) and exc.details.get("failed_step") == "reserve":
            raise cause from None
        raise


def _fingerprint(**values: Any) -> str:
    payload = json.dumps(values, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(payload.encode()).hexdigest()


def _replay_by_key(tenant: Company, key: str, fingerprint: str) -> CreatedBooking | None:
    """The booking made earlier with this idempotency key, None when there is none.

    Raises Conflict when that booking was made with other arguments."""
    existing = (
        Appointment.objects.for_tenant(tenant)
        .select_related("branch")
        .filter(idempotency_key=key)
        .first()
    )
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise key_reused(key)
    channels = booking_notified_channels(tenant=tenant, appointment_id=existing.pk)
    return CreatedBooking(appointment=existing, notifications_sent=channels, replayed=True)


def _check_time_window(start: dt.datetime) -> None:
    now = timezone.now()
    reason = ""
    if start < now:
        reason = "The start time is in the past."
    elif start > now + dt.timedelta(days=settings.MCP_BOOKING_MAX_ADVANCE_DAYS):
        reason = (
            f"Bookings can be made at most {settings.MCP_BOOKING_MAX_ADVANCE_DAYS} days in advance."
        )
    if reason:
        raise SlotNotBookable(reason, details={"start_time": [reason]})


def _nobody_free(
    tenant: Company, service: Service, branch: Branch, start: dt.datetime, minutes: int
) -> ApplicationError:
    """Why no staff member can be given the booking: SlotTaken (409) when one who could take
    it is booked then, else the rules' reason (SlotNotBookable, 400); both with the next free
    slots at the branch."""
    qualified = [
        skill.staff
        for skill in StaffService.objects.for_tenant(tenant)
        .filter(service=service, staff__branch=branch, staff__is_active=True)
        .select_related("staff")
        .order_by("-skill_level", "staff_id")[:MAX_STAFF_CANDIDATES]
    ]
    refusal: ApplicationError | None = None
    for member in qualified:
        try:
            availability.check_bookable(
                tenant=tenant,
                service=service,
                branch=branch,
                staff=member,
                start=start,
                duration_minutes=minutes,
            )
        except SlotTaken:
            busy = SlotTaken("No qualified staff member is free at that time.")
            return slot_taken(tenant, service, branch, None, start, minutes, busy)
        except SlotNotBookable as exc:
            refusal = refusal or exc
    if refusal is None:
        message = "No staff member of this branch offers this service."
        refusal = SlotNotBookable(message, details={"start_time": [message]})
    details = {
        **refusal.details,
        "next_available": next_slots(tenant, service, branch, None, start, minutes),
    }
    return SlotNotBookable(refusal.message, details=details)


SOURCE_BY_FRONT_DOOR: dict[str, str] = {
    "mcp": AppointmentSource.MCP,
    "api": AppointmentSource.API,
    "cli": AppointmentSource.ADMIN,
    "admin": AppointmentSource.ADMIN,
    "phone": AppointmentSource.PHONE,
}


# ------------------------------------------------------------------------------ saga steps


def _request(ctx: SagaContext) -> ReservationRequest:
    return ReservationRequest.from_context(ctx.data)


def _reservation(ctx: SagaContext) -> Reservation | None:
    result = ctx.results.get("reserve")
    return Reservation.from_result(result) if result else None


def reserve(ctx: SagaContext) -> dict[str, Any]:
    reservation = booking_reserve(
        tenant=ctx.tenant, request=_request(ctx), saga_run_id=str(ctx.run_id)
    )
    return reservation.to_result()


def _calendar_to_sync(ctx: SagaContext) -> bool:
    reservation = _reservation(ctx)
    return (
        reservation is not None
        and not reservation.replayed
        and reservation.calendar_message_id is not None
    )


def _notification_to_send(ctx: SagaContext) -> bool:
    reservation = _reservation(ctx)
    return (
        reservation is not None
        and not reservation.replayed
        and reservation.notification_message_id is not None
    )


def calendar_sync(ctx: SagaContext) -> dict[str, Any]:
    reservation = _reservation(ctx)
    if reservation is None or reservation.replayed:
        return {"skipped": True}
    if reservation.calendar_message_id is None:
        return {"sync_status": SyncStatus.NOT_REQUIRED.value}
    status = booking_calendar_deliver(
        tenant=ctx.tenant,
        actor=ctx.data["actor"],
        appointment_id=reservation.appointment_id,
        message_id=reservation.calendar_message_id,
        claimed=ctx.attempt == 1,
    )
    return {"sync_status": status}


def notify(ctx: SagaContext) -> dict[str, Any]:
    reservation = _reservation(ctx)
    if reservation is None or reservation.replayed:
        return {"skipped": True, "sent": []}
    if reservation.notification_message_id is None:
        return {"sent": []}
    sent = booking_notification_deliver(
        tenant=ctx.tenant,
        actor=ctx.data["actor"],
        appointment_id=reservation.appointment_id,
        message_id=reservation.notification_message_id,
        claimed=ctx.attempt == 1,
    )
    return {"sent": sent}


booking_create_saga = Saga(
    "booking.create",
    steps=[
        # Its commit is the point of no return: the client may be told of the booking from
        # here on (a retry with the same idempotency key finds it), so it is never undone.
        Step("reserve", action=reserve, atomic=True, pivot=True),
        # Skipped without a transaction of its own when nothing was queued for them.
        Step("calendar_sync", action=calendar_sync, applies=_calendar_to_sync),
        Step("notifications", action=notify, applies=_notification_to_send),
    ],
)
