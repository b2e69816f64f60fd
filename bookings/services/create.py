"""Creating a booking: `booking_create` checks and normalises the request (the time window,
the slot or the free staff, the customer), then runs the booking saga
(`bookings.services.reserve`) outside any transaction and answers with the row it wrote.
A replayed idempotency key answers with the earlier booking as it is now."""

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
from bookings.enums import AppointmentSource, SyncStatus
from bookings.errors import SlotNotBookable, SlotTaken
from bookings.models import Appointment, Customer
from bookings.selectors import booking_get, booking_notified_channels
from bookings.services.conflicts import check_slot, next_slots, slot_taken
from bookings.services.customers import customer_fill_in, customer_id_by_phone
from bookings.services.reserve import (
    ReservationRequest,
    booking_saga_run,
    check_quota,
    key_reused,
    reserved_appointment,
)
from common.errors import ApplicationError, ValidationFailed
from common.phone import InvalidPhoneNumber, normalize_phone
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
    reservation, results = booking_saga_run(tenant=tenant, request=request)
    if reservation.replayed:
        appointment = booking_get(tenant=tenant, appointment_id=reservation.appointment_id)
        channels = booking_notified_channels(tenant=tenant, appointment_id=appointment.pk)
        return CreatedBooking(appointment=appointment, notifications_sent=channels, replayed=True)
    appointment = reserved_appointment(
        tenant=tenant,
        branch=branch,
        service=service,
        request=request,
        reservation=reservation,
        results=results,
    )
    sent = results.get("notifications", {}).get("sent", [])
    return CreatedBooking(appointment=appointment, notifications_sent=list(sent), replayed=False)


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
