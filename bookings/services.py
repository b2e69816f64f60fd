"""Writes of the bookings app: keyword-only, tenant first, actor second, with an audit row.

Creating a booking is a saga (`bookings.sagas.booking_create_saga`): `booking_create` checks and
normalises the request, then runs the saga outside any transaction. Its steps are services here:

1. `booking_reserve` (compensated by `booking_release`): runs in the transaction that creates
   the saga run; checks the monthly quota, inserts the appointment and writes its side effects
   to the transactional outbox (`mcp_core.outbox`): "calendar.sync" when the calendar keeps a
   copy, "notification.booking" (confirmation) always, both claimed for the next two steps;
2. `booking_calendar_deliver` (compensated by `booking_calendar_unsync`): delivers the calendar
   message inline, so a healthy calendar answers `synced`; an outage leaves `sync_status`
   pending and the message is retried by Celery with back-off;
3. `booking_notification_deliver`: delivers the confirmation inline the same way.

The lifecycle services (cancel, confirm, reschedule, update) write their calendar and
notification messages in their own transaction; Celery delivers them after commit. The outbox
handlers of both topics are in `bookings.side_effects`.

No double booking: on PostgreSQL the exclusion constraint `appointment_no_staff_overlap` has the
last word (a new appointment it refuses is not inserted, a moved one raises IntegrityError; both
become SlotTaken); on SQLite every write transaction is IMMEDIATE (the write lock is taken at
BEGIN), so the overlap query inside the transaction cannot be raced.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from bookings import availability
from bookings.confirmation import new_confirmation_number
from bookings.customer_selectors import customer_get
from bookings.enums import ACTIVE_STATUSES, AppointmentSource, AppointmentStatus, SyncStatus
from bookings.errors import AppointmentNotFound, IllegalStatusTransition, SlotNotBookable, SlotTaken
from bookings.models import Appointment, Customer
from bookings.selectors import (
    APPOINTMENT_OBJECT_TYPE,
    booking_get,
    booking_notified_channels,
    bookings_created_this_month,
)
from bookings.status import can_transition
from common import rows
from common.errors import (
    ApplicationError,
    Conflict,
    QuotaExceeded,
    TransactionFailed,
    ValidationFailed,
)
from common.phone import InvalidPhoneNumber, normalize_phone
from integrations import calendar, notifications
from mcp_core import outbox
from mcp_core.audit import Ref, audit_record
from mcp_core.models import AuditLog
from staff.models import Service, StaffService
from staff.selectors import staff_get
from tenants.models import Branch, Company
from tenants.plans import UNLIMITED, effective_plan, plan_limits

logger = logging.getLogger(__name__)

Errors = dict[str, list[str]]

OVERLAP_CONSTRAINT = "appointment_no_staff_overlap"
CONFIRMATION_NUMBER_ATTEMPTS = 5
MAX_STAFF_CANDIDATES = 5  # auto-assignment tries this many free staff members when racing
NEXT_AVAILABLE_LIMIT = 3
CALENDAR_TOPIC = "calendar.sync"
NOTIFICATION_TOPIC = "notification.booking"


# ------------------------------------------------------------------------------ customers


def customer_get_or_create_by_phone(
    *, tenant: Company, actor: str, phone: str, name: str = "", email: str = ""
) -> Customer:
    """The tenant's customer with this phone number (normalised to E.164, default region DE),
    created when there is none. A name or e-mail fills in one not known yet, never overwrites.

    Race-safe: when a concurrent call creates the same number first, the insert fails on the
    unique constraint and the winner's row is read back.
    Raises ValidationFailed (details "phone" or "email") for an undialable number or a
    malformed address.
    """
    try:
        normalized = normalize_phone(phone)
    except InvalidPhoneNumber as exc:
        raise ValidationFailed(
            "The phone number is not valid.", details={"phone": [str(exc)]}
        ) from exc
    customer_id = _customer_id_for_phone(
        tenant=tenant, actor=actor, normalized=normalized, name=name, email=email
    )
    return Customer.objects.get(pk=customer_id)


def _customer_id_for_phone(
    *, tenant: Company, actor: str, normalized: str, name: str, email: str
) -> int:
    """`customer_get_or_create_by_phone` for an E.164 number, returning only the id: the
    booking path needs no more, and reads three columns instead of building the instance."""
    name, email = name.strip()[:200], email.strip()
    if email:
        _check_email(email, field="email")
    for _ in range(2):
        found = rows.select_one(
            Customer, ("id", "name", "email"), {"tenant_id": tenant.pk, "phone": normalized}
        )
        if found is not None:
            customer_id, known_name, known_email = found
            _customer_fill_in(
                tenant=tenant,
                actor=actor,
                customer_id=customer_id,
                known=(known_name, known_email),
                name=name,
                email=email,
            )
            return int(customer_id)
        try:
            with transaction.atomic():
                customer_id = rows.insert(
                    Customer, tenant_id=tenant.pk, phone=normalized, name=name, email=email
                )
                audit_record(
                    tenant=tenant,
                    actor=actor,
                    action="customer.created",
                    obj=Ref(Customer, customer_id),
                    changes={"phone": normalized, "name": name, "email": email},
                )
            return int(customer_id)
        except IntegrityError:
            continue  # created concurrently: the next round reads the winner's row
    raise RuntimeError(f"customer {normalized} could neither be created nor found")


def _customer_fill_in(
    *,
    tenant: Company,
    actor: str,
    customer_id: int,
    known: tuple[str, str],
    name: str,
    email: str,
) -> None:
    """Fill in the name and e-mail the customer (`known`: their current name and e-mail) does
    not have yet."""
    fill = {}
    if name and not known[0]:
        fill["name"] = name
    if email and not known[1]:
        fill["email"] = email
    if not fill:
        return
    with transaction.atomic():
        rows.update(Customer, {"pk": customer_id, "tenant_id": tenant.pk}, **fill)
        audit_record(
            tenant=tenant,
            actor=actor,
            action="customer.updated",
            obj=Ref(Customer, customer_id),
            changes={key: ["", value] for key, value in fill.items()},
        )


def _check_email(email: str, *, field: str) -> None:
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationFailed(
            "The e-mail address is not valid.", details={field: ["Enter a valid e-mail address."]}
        ) from exc


# ------------------------------------------------------------------------------ create


@dataclass(frozen=True)
class ReservationRequest:
    """What the reserve step needs, JSON-able: the saga persists it as the run's context."""

    actor: str
    source: str
    service_id: int
    branch_id: int
    staff_ids: list[int]  # one requested, or the free candidates best first
    staff_requested: bool
    start: dt.datetime  # aware
    duration: int  # minutes
    buffer_before: int
    buffer_after: int
    price: Decimal
    customer_id: int
    notes: str
    call_id: str
    idempotency_key: str | None
    fingerprint: str
    sync_status: str

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.duration)

    @property
    def occupied(self) -> tuple[dt.datetime, dt.datetime]:
        return (
            self.start - dt.timedelta(minutes=self.buffer_before),
            self.end + dt.timedelta(minutes=self.buffer_after),
        )

    def to_context(self) -> dict[str, Any]:
        return _fields_of(self)

    @classmethod
    def from_context(cls, data: dict[str, Any]) -> ReservationRequest:
        values = dict(data)
        values["start"] = dt.datetime.fromisoformat(values["start"])
        values["price"] = Decimal(str(values["price"]))
        return cls(**values)


@dataclass(frozen=True)
class Reservation:
    appointment_id: int
    confirmation_number: str
    staff_id: int
    replayed: bool  # the idempotency key's first booking, found when racing it
    # The outbox messages written with the appointment (None: nothing to deliver).
    calendar_message_id: int | None = None
    notification_message_id: int | None = None

    def to_result(self) -> dict[str, Any]:
        return _fields_of(self)

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> Reservation:
        return cls(**result)


def _fields_of(instance: Any) -> dict[str, Any]:
    """A flat dataclass as a dict (its lists copied): `dataclasses.asdict` recurses and
    deep-copies every value, ten times slower, on each booking."""
    return {
        field.name: (
            list(value) if isinstance(value := getattr(instance, field.name), list) else value
        )
        for field in dataclasses.fields(instance)
    }


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
    arguments) and TransactionFailed (500, compensated) when a later step failed unexpectedly.
    Writes the calendar and confirmation messages to the outbox with the appointment.
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
    _check_quota(tenant, lock=False)
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
        try:
            availability.check_bookable(
                tenant=tenant,
                service=service,
                branch=branch,
                staff=staff,
                start=start,
                duration_minutes=minutes,
                offer=subjects.offer,
            )
        except SlotTaken as exc:
            raise _slot_taken(tenant, service, branch, staff.pk, start, minutes, exc) from exc
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
        _customer_fill_in(
            tenant=tenant,
            actor=actor,
            customer_id=customer_id,
            known=(known_customer.name, known_customer.email),
            name=customer_name.strip()[:200],
            email=email,
        )
    else:
        customer_id = _customer_id_for_phone(
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
        if calendar.requires_sync(backend, tenant_id=tenant.pk, service_id=service.pk)
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
        sync_status=results["calendar_sync"].get("sync_status", request.sync_status),
        price=service.price,
        notes=notes,
    )
    sent = results["notifications"].get("sent", [])
    return CreatedBooking(appointment=appointment, notifications_sent=list(sent), replayed=False)


def _run_booking_saga(tenant: Company, request: ReservationRequest) -> dict[str, dict[str, Any]]:
    """Run the saga; a refusal of the reserve step (slot taken, quota, key reused) is raised as
    itself, anything else as the saga's TransactionFailed."""
    # Imported here: the saga's steps call this module.
    from bookings.sagas import booking_create_saga

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
        raise _key_reused(key)
    channels = booking_notified_channels(tenant=tenant, appointment_id=existing.pk)
    return CreatedBooking(appointment=existing, notifications_sent=channels, replayed=True)


def _key_reused(key: str) -> Conflict:
    return Conflict(
        "The idempotency key was already used with other arguments.",
        details={"idempotency_key": [f"'{key}' belongs to another booking request."]},
    )


def _check_quota(tenant: Company, *, lock: bool) -> None:
    """Raises QuotaExceeded when the plan's monthly bookings are used up. With `lock` (inside
    the reserving transaction) the tenant row is locked first, so concurrent bookings of one
    tenant count one after another and the limit is exact; unlimited plans take no lock.
    NO KEY UPDATE: inserts of other rows referring to the tenant (their key share) go on."""
    plan = effective_plan(tenant)
    limit = plan_limits(plan).monthly_bookings
    if limit == UNLIMITED:
        return
    if lock:
        tenant_row = Company.objects.select_for_update(no_key=True).filter(pk=tenant.pk)
        tenant_row.values_list("pk", flat=True).first()  # takes the lock
    used = bookings_created_this_month(tenant=tenant)
    if used >= limit:
        raise QuotaExceeded(
            f"The {plan} plan allows {limit} bookings a month; they are used up.",
            details={"plan": plan, "monthly_bookings": limit, "used": used},
        )


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


def _next_slots(
    tenant: Company,
    service: Service,
    branch: Branch,
    staff_id: int | None,
    start: dt.datetime,
    minutes: int,
    exclude_appointment_id: int | None = None,
) -> list[dict[str, Any]]:
    slots = availability.next_available(
        tenant=tenant,
        service=service,
        after=start,
        branch_ids=[branch.pk],
        staff_id=staff_id,
        limit=NEXT_AVAILABLE_LIMIT,
        duration_minutes=minutes,
        exclude_appointment_id=exclude_appointment_id,
    )
    return [slot.as_dict() for slot in slots]


def _slot_taken(
    tenant: Company,
    service: Service,
    branch: Branch,
    staff_id: int | None,
    start: dt.datetime,
    minutes: int,
    cause: SlotTaken | None = None,
    exclude_appointment_id: int | None = None,
) -> SlotTaken:
    """SlotTaken with the next free slots (of the staff member when one was asked for)."""
    zone = ZoneInfo(branch.time_zone)
    details: dict[str, Any] = dict(cause.details) if cause is not None else {}
    details.setdefault("staff_id", staff_id)
    details.setdefault("start_time", start.astimezone(zone).isoformat())
    details["next_available"] = _next_slots(
        tenant, service, branch, staff_id, start, minutes, exclude_appointment_id
    )
    message = cause.message if cause is not None else SlotTaken.default_message
    return SlotTaken(message, details=details)


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
            return _slot_taken(tenant, service, branch, None, start, minutes, busy)
        except SlotNotBookable as exc:
            refusal = refusal or exc
    if refusal is None:
        message = "No staff member of this branch offers this service."
        refusal = SlotNotBookable(message, details={"start_time": [message]})
    details = {
        **refusal.details,
        "next_available": _next_slots(tenant, service, branch, None, start, minutes),
    }
    return SlotNotBookable(refusal.message, details=details)


def _database_refuses_overlaps() -> bool:
    return connection.vendor == "postgresql"


def _overlapping(
    tenant: Company,
    staff_id: int,
    occupied: tuple[dt.datetime, dt.datetime],
    exclude_appointment_id: int | None = None,
) -> QuerySet[Appointment]:
    found = Appointment.objects.for_tenant(tenant).filter(
        staff_id=staff_id,
        status__in=ACTIVE_STATUSES,
        occupied_start__lt=occupied[1],
        occupied_end__gt=occupied[0],
    )
    if exclude_appointment_id is not None:
        found = found.exclude(pk=exclude_appointment_id)
    return found


def _violation(exc: IntegrityError) -> str:
    """Which constraint an IntegrityError broke: 'overlap', 'idempotency_key',
    'confirmation_number' or '' (PostgreSQL names it; SQLite only lists the columns)."""
    diag = getattr(exc.__cause__, "diag", None)
    text = getattr(diag, "constraint_name", None) or str(exc)
    if OVERLAP_CONSTRAINT in text:
        return "overlap"
    if "idempotency_key" in text:
        return "idempotency_key"
    if "confirmation_number" in text:
        return "confirmation_number"
    return ""


def booking_reserve(
    *, tenant: Company, request: ReservationRequest, saga_run_id: str
) -> Reservation:
    """Step 1 of the booking saga: insert the appointment for the first candidate staff member
    whose time is still free, in the caller's transaction: check the monthly quota (tenant row
    locked for limited plans), write the appointment, its audit row and its outbox messages.

    Raises QuotaExceeded, SlotTaken (details.next_available) when every candidate was taken
    meanwhile, and Conflict when a concurrent call holding the same idempotency key won with
    other arguments (with the same arguments its booking is returned, `replayed`).
    """
    with transaction.atomic(savepoint=False):
        # Once for all candidates: they are tried in this one transaction, and a candidate
        # whose time was taken wrote nothing the count could see.
        _check_quota(tenant, lock=True)
        for staff_id in request.staff_ids:
            reservation = _reserve_for(tenant, request, staff_id, saga_run_id)
            if reservation is not None:
                return reservation
    branch = Branch.objects.for_tenant(tenant).get(pk=request.branch_id)
    service = Service.objects.for_tenant(tenant).get(pk=request.service_id)
    asked = request.staff_ids[0] if request.staff_requested else None
    raise _slot_taken(tenant, service, branch, asked, request.start, request.duration)


def _reserve_for(
    tenant: Company, request: ReservationRequest, staff_id: int, saga_run_id: str
) -> Reservation | None:
    """The reservation with `staff_id`, or None when their time is taken.

    Runs in `booking_reserve`'s transaction without a savepoint: a conflicting row (the slot
    taken meanwhile, the confirmation number drawn twice, the idempotency key's booking) makes
    the insert a no-op rather than an error that would abort the transaction, and
    `_refused_by` asks which constraint it was."""
    occupied = request.occupied
    if not _database_refuses_overlaps() and _overlapping(tenant, staff_id, occupied).exists():
        return None
    for _ in range(CONFIRMATION_NUMBER_ATTEMPTS):
        confirmation_number = new_confirmation_number()
        appointment_id = rows.insert_unless_conflict(
            Appointment,
            tenant_id=tenant.pk,
            branch_id=request.branch_id,
            service_id=request.service_id,
            staff_id=staff_id,
            customer_id=request.customer_id,
            start_time=request.start,
            end_time=request.end,
            occupied_start=occupied[0],
            occupied_end=occupied[1],
            status=AppointmentStatus.CONFIRMED,
            confirmation_number=confirmation_number,
            source=request.source,
            call_id=request.call_id,
            idempotency_key=request.idempotency_key,
            request_fingerprint=request.fingerprint,
            sync_status=request.sync_status,
            price=request.price,
            notes=request.notes,
        )
        if appointment_id is not None:
            return _reserved(
                tenant, request, staff_id, saga_run_id, appointment_id, confirmation_number
            )
        refused = _refused_by(tenant, request, confirmation_number)
        if refused == "overlap":
            return None
        if refused == "idempotency_key" and request.idempotency_key is not None:
            return _reservation_by_key(tenant, request.idempotency_key, request.fingerprint)
    raise RuntimeError(f"no unused confirmation number in {CONFIRMATION_NUMBER_ATTEMPTS} tries")


def _refused_by(tenant: Company, request: ReservationRequest, confirmation_number: str) -> str:
    """Which constraint kept an appointment insert out: 'idempotency_key',
    'confirmation_number' or 'overlap' (the only other one that can conflict)."""
    appointments = Appointment.objects.for_tenant(tenant)
    if (
        request.idempotency_key is not None
        and appointments.filter(idempotency_key=request.idempotency_key).exists()
    ):
        return "idempotency_key"
    if Appointment.objects.filter(confirmation_number=confirmation_number).exists():
        return "confirmation_number"
    return "overlap"


def _reserved(
    tenant: Company,
    request: ReservationRequest,
    staff_id: int,
    saga_run_id: str,
    appointment_id: int,
    confirmation_number: str,
) -> Reservation:
    """Write what goes with a new appointment (its audit row and outbox messages)."""
    audit_record(
        tenant=tenant,
        actor=request.actor,
        action="appointment.created",
        obj=Ref(Appointment, appointment_id),
        changes={
            "status": AppointmentStatus.CONFIRMED.value,
            "start_time": request.start.isoformat(),
            "end_time": request.end.isoformat(),
            "staff_id": staff_id,
            "service_id": request.service_id,
            "branch_id": request.branch_id,
            "customer_id": request.customer_id,
            "source": request.source,
            "saga_run_id": saga_run_id,
        },
    )
    # Claimed for the saga's next steps, which deliver them right after the commit.
    calendar_message = None
    if request.sync_status == SyncStatus.PENDING:
        calendar_message = _calendar_message(tenant, request.actor, appointment_id, inline=True)
    notification = _notification_message(
        tenant, request.actor, appointment_id, "confirmation", inline=True
    )
    return Reservation(
        appointment_id=appointment_id,
        confirmation_number=confirmation_number,
        staff_id=staff_id,
        replayed=False,
        calendar_message_id=calendar_message.pk if calendar_message else None,
        notification_message_id=notification.pk,
    )


def _reservation_by_key(tenant: Company, key: str, fingerprint: str) -> Reservation:
    existing = Appointment.objects.for_tenant(tenant).filter(idempotency_key=key).first()
    if existing is None:  # the winner was compensated meanwhile: let the caller try again
        raise Conflict(
            "A booking with this idempotency key failed meanwhile; try again.",
            details={"idempotency_key": [key]},
        )
    if existing.request_fingerprint != fingerprint:
        raise _key_reused(key)
    return Reservation(
        appointment_id=existing.pk,
        confirmation_number=existing.confirmation_number,
        staff_id=existing.staff_id,
        replayed=True,
    )


def booking_release(
    *, tenant: Company, actor: str, reservation: Reservation | None, saga_run_id: str
) -> None:
    """Compensation of booking_reserve: delete the appointment the saga run created. Without
    the step's result (its process died) the run's appointment is found by its audit row.
    Idempotent; an appointment the run only found (`replayed`) is left alone."""
    if reservation is not None and reservation.replayed:
        return
    appointment_id = reservation.appointment_id if reservation is not None else None
    if appointment_id is None:
        created = (
            AuditLog.objects.for_tenant(tenant)
            .filter(
                object_type=APPOINTMENT_OBJECT_TYPE,
                action="appointment.created",
                changes__saga_run_id=saga_run_id,
            )
            .values_list("object_id", flat=True)
            .first()
        )
        if created is None:
            return
        appointment_id = int(created)
    with transaction.atomic():
        appointment = Appointment.objects.for_tenant(tenant).filter(pk=appointment_id).first()
        if appointment is None:
            return
        appointment.delete()
        audit_record(
            tenant=tenant,
            actor=actor,
            action="appointment.creation_undone",
            obj=Ref(Appointment, appointment_id),
            changes={"saga_run_id": saga_run_id},
        )


# ------------------------------------------------------------------------------ calendar


def _calendar_event(appointment: Appointment) -> calendar.CalendarEvent:
    zone, customer = ZoneInfo(appointment.branch.time_zone), appointment.customer
    return calendar.CalendarEvent(
        uid=appointment.confirmation_number,
        tenant_id=appointment.tenant_id,
        appointment_id=appointment.pk,
        start=appointment.start_time.astimezone(zone),
        end=appointment.end_time.astimezone(zone),
        time_zone=appointment.branch.time_zone,
        title=f"{appointment.service.name} – {customer.name or customer.phone}",
        branch_id=appointment.branch_id,
        branch_name=appointment.branch.name,
        staff_id=appointment.staff_id,
        staff_name=appointment.staff.name,
        customer_name=customer.name,
        customer_phone=customer.phone,
        customer_email=customer.email,
        notes=appointment.notes,
        service_id=appointment.service_id,
    )


def booking_calendar_sync(*, tenant: Company, appointment_id: int) -> str:
    """Bring the external calendar in line with the appointment as it is now (create, update
    or cancel the event) and return its sync status. An appointment changed while its event
    was being written is written again. Idempotent; a deleted appointment is skipped ('').

    Raises CalendarError when the backend failed (the sync status stays as it was)."""
    backend = calendar.get_calendar_backend()
    for _ in range(3):
        appointment = (
            Appointment.objects.for_tenant(tenant)
            .select_related("branch", "service", "staff", "customer")
            .filter(pk=appointment_id)
            .first()
        )
        if appointment is None:
            return ""
        external_id = appointment.external_calendar_id
        syncs = calendar.requires_sync(
            backend, tenant_id=tenant.pk, service_id=appointment.service_id
        )
        if not syncs and not external_id:
            status = SyncStatus.NOT_REQUIRED
        else:
            event = _calendar_event(appointment)
            if appointment.is_active and external_id:
                moved_to = calendar.call(backend, backend.update_event, external_id, event)
                external_id = moved_to or external_id
            elif appointment.is_active:
                external_id = calendar.call(backend, backend.create_event, event)
            elif external_id:
                calendar.call(backend, backend.cancel_event, external_id)
            status = SyncStatus.SYNCED
        # Only if nobody changed the appointment meanwhile; otherwise push the new state too.
        if (
            Appointment.objects.for_tenant(tenant)
            .filter(pk=appointment_id, updated_at=appointment.updated_at)
            .update(sync_status=status, external_calendar_id=external_id)
        ):
            return str(status)
    return SyncStatus.PENDING.value


def _calendar_payload(actor: str, appointment_id: int) -> dict[str, Any]:
    return {"appointment_id": appointment_id, "actor": actor}


def _notification_payload(actor: str, appointment_id: int, kind: str) -> dict[str, Any]:
    return {"appointment_id": appointment_id, "kind": kind, "actor": actor}


def _calendar_message(
    tenant: Company, actor: str, appointment_id: int, *, inline: bool = False
) -> outbox.OutboxMessage:
    """The outbox message that brings the appointment's calendar copy in line (in the
    caller's transaction; `actor` is who caused it, for the audit rows of its delivery).
    `inline`: claimed for `booking_calendar_deliver` after the commit."""
    return outbox.enqueue(
        tenant=tenant,
        topic=CALENDAR_TOPIC,
        payload=_calendar_payload(actor, appointment_id),
        inline=inline,
    )


def _notification_message(
    tenant: Company, actor: str, appointment_id: int, kind: str, *, inline: bool = False
) -> outbox.OutboxMessage:
    """The outbox message that tells the customer (kind confirmation, cancellation or
    reschedule), in the caller's transaction. `inline`: claimed for
    `booking_notification_deliver` after the commit."""
    return outbox.enqueue(
        tenant=tenant,
        topic=NOTIFICATION_TOPIC,
        payload=_notification_payload(actor, appointment_id, kind),
        inline=inline,
    )


def booking_calendar_deliver(
    *, tenant: Company, actor: str, appointment_id: int, message_id: int
) -> str:
    """Step 2 of the booking saga: deliver the new appointment's calendar message now and
    return the appointment's sync status. A failed delivery does not fail the booking: the
    appointment stays `pending` and the outbox retries the message with back-off."""
    message = outbox.claimed_message(
        tenant=tenant,
        message_id=message_id,
        topic=CALENDAR_TOPIC,
        payload=_calendar_payload(actor, appointment_id),
    )
    delivery = outbox.deliver_claimed(message)
    if delivery.delivered and delivery.result:
        return str(delivery.result.get("sync_status") or SyncStatus.PENDING.value)
    return SyncStatus.PENDING.value


def booking_calendar_sync_failed(
    *, tenant: Company, actor: str, appointment_id: int, error: str, attempt: int
) -> None:
    """Record one failed calendar delivery ('calendar_sync.failed'); the outbox retries it."""
    logger.warning("calendar sync of appointment %s failed: %s", appointment_id, error)
    with transaction.atomic():
        if not Appointment.objects.for_tenant(tenant).filter(pk=appointment_id).exists():
            return
        audit_record(
            tenant=tenant,
            actor=actor,
            action="calendar_sync.failed",
            obj=Ref(Appointment, appointment_id),
            changes={"error": error[:500], "attempt": attempt, "retry": "outbox"},
        )


def booking_calendar_unsync(*, tenant: Company, appointment_id: int) -> None:
    """Compensation of the calendar step: cancel the appointment's external event, if any.
    Idempotent. Raises CalendarError when the backend failed (an operator has to look)."""
    row = (
        Appointment.objects.for_tenant(tenant)
        .filter(pk=appointment_id)
        .values_list("external_calendar_id", flat=True)
        .first()
    )
    if not row:
        return
    backend = calendar.get_calendar_backend()
    calendar.call(backend, backend.cancel_event, row)
    Appointment.objects.for_tenant(tenant).filter(pk=appointment_id).update(
        external_calendar_id="", sync_status=SyncStatus.NOT_REQUIRED
    )


def booking_calendar_sync_gave_up(
    *, tenant: Company, actor: str, appointment_id: int, error: str
) -> None:
    """Retries ran out: mark the appointment's sync failed and tell operations (error log,
    which reaches Sentry, and an audit row 'calendar_sync.gave_up')."""
    with transaction.atomic():
        updated = (
            Appointment.objects.for_tenant(tenant)
            .filter(pk=appointment_id)
            .update(sync_status=SyncStatus.FAILED)
        )
        if not updated:
            return
        audit_record(
            tenant=tenant,
            actor=actor,
            action="calendar_sync.gave_up",
            obj=Ref(Appointment, appointment_id),
            changes={"error": error[:500]},
        )
    logger.error(
        "calendar sync of appointment %s (tenant %s) failed for good: %s; the appointment "
        "stands, its calendar copy needs an operator",
        appointment_id,
        tenant.pk,
        error,
    )


def _calendar_follows(tenant: Company, actor: str, appointment: Appointment) -> bool:
    """After a change: mark the calendar copy pending and write its outbox message when there
    is one to keep in line (inside the caller's transaction; the caller saves `sync_status`).
    """
    backend = calendar.get_calendar_backend()
    if not (
        appointment.external_calendar_id
        or calendar.requires_sync(backend, tenant_id=tenant.pk, service_id=appointment.service_id)
    ):
        return False
    appointment.sync_status = SyncStatus.PENDING
    _calendar_message(tenant, actor, appointment.pk)
    return True


# ------------------------------------------------------------------------------ notifications


class NotificationUndelivered(Exception):
    """No channel reached the customer; the outbox retries the message."""


def booking_notify(*, tenant: Company, actor: str, appointment_id: int, kind: str) -> list[str]:
    """Tell the customer about their appointment (kind confirmation, cancellation or
    reschedule): e-mail when given, else SMS; SMS when the e-mail fails. Each failed channel is
    audited as 'notification.failed', the outcome as 'appointment.notified'. Returns the
    channels that succeeded (none for a deleted appointment or an erased customer).

    Raises NotificationUndelivered when every channel tried failed (the outbox retries)."""
    report = notifications.deliver_booking_notification(
        tenant=tenant, appointment_id=appointment_id, kind=kind
    )
    if not report.sent and not report.failed:
        return []
    label = f"booking_{kind}"
    appointment = Ref(Appointment, appointment_id)
    # Recorded even when the appointment was undone meanwhile: the message did go out. One
    # transaction only when there are several rows to write.
    with transaction.atomic() if report.failed else nullcontext():
        for failure in report.failed:
            audit_record(
                tenant=tenant,
                actor=actor,
                action="notification.failed",
                obj=appointment,
                changes={
                    "kind": label,
                    "channel": failure.channel,
                    "error": failure.error[:500],
                    "fallback": failure.fallback,
                },
            )
        audit_record(
            tenant=tenant,
            actor=actor,
            action="appointment.notified",
            obj=appointment,
            changes={"kind": label, "sent": report.sent},
        )
    if not report.sent:
        errors = "; ".join(f"{failure.channel}: {failure.error}" for failure in report.failed)
        raise NotificationUndelivered(errors)
    return report.sent


def booking_notification_deliver(
    *, tenant: Company, actor: str, appointment_id: int, message_id: int
) -> list[str]:
    """Step 3 of the booking saga: deliver the confirmation message now; the channels used
    (none when it failed: the outbox retries it, the booking stands)."""
    message = outbox.claimed_message(
        tenant=tenant,
        message_id=message_id,
        topic=NOTIFICATION_TOPIC,
        payload=_notification_payload(actor, appointment_id, "confirmation"),
    )
    delivery = outbox.deliver_claimed(message)
    if not delivery.delivered or not delivery.result:
        return []
    return [str(channel) for channel in delivery.result.get("sent", [])]


# ------------------------------------------------------------------------------ lifecycle


def _locked(tenant: Company, appointment_id: int) -> Appointment:
    """The appointment, row-locked, with its branch, service and staff member (not locked).
    Raises AppointmentNotFound."""
    appointment = (
        Appointment.objects.for_tenant(tenant)
        .select_for_update(of=("self",))
        .select_related("branch", "service", "staff")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None:
        raise AppointmentNotFound(details={"appointment_id": appointment_id})
    return appointment


@transaction.atomic
def booking_cancel(
    *,
    tenant: Company,
    actor: str,
    appointment_id: int,
    reason: str = "",
    sync_calendar: bool = True,
) -> Appointment:
    """Cancel an appointment, freeing its slot. Writes the cancellation notice and, when there
    is a calendar copy, its sync to the outbox; `sync_calendar=False` when the calendar is
    where the cancellation came from (a Cal.com webhook), so it is not echoed back.

    Raises AppointmentNotFound (also for another tenant's id) and IllegalStatusTransition.
    """
    appointment = _locked(tenant, appointment_id)
    previous = _require_transition(appointment, AppointmentStatus.CANCELLED, "cancelled")
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancelled_at = timezone.now()
    appointment.cancellation_reason = reason[:255]
    fields = ["status", "cancelled_at", "cancellation_reason", "updated_at"]
    if sync_calendar and _calendar_follows(tenant, actor, appointment):
        fields.append("sync_status")
    appointment.save(update_fields=fields)
    _notification_message(tenant, actor, appointment.pk, "cancellation")
    audit_record(
        tenant=tenant,
        actor=actor,
        action="appointment.cancelled",
        obj=appointment,
        changes={"status": [previous, AppointmentStatus.CANCELLED], "reason": reason},
    )
    return appointment


@transaction.atomic
def booking_confirm(*, tenant: Company, actor: str, appointment_id: int) -> Appointment:
    """Confirm a pending appointment; writes the confirmation notice (and the calendar sync
    when there is a copy) to the outbox.

    Raises AppointmentNotFound and IllegalStatusTransition (anything but pending)."""
    appointment = _locked(tenant, appointment_id)
    previous = _require_transition(appointment, AppointmentStatus.CONFIRMED, "confirmed")
    appointment.status = AppointmentStatus.CONFIRMED
    appointment.confirmed_at = timezone.now()
    fields = ["status", "confirmed_at", "updated_at"]
    if _calendar_follows(tenant, actor, appointment):
        fields.append("sync_status")
    appointment.save(update_fields=fields)
    _notification_message(tenant, actor, appointment.pk, "confirmation")
    audit_record(
        tenant=tenant,
        actor=actor,
        action="appointment.confirmed",
        obj=appointment,
        changes={"status": [previous, AppointmentStatus.CONFIRMED]},
    )
    return appointment


def _require_transition(appointment: Appointment, new_status: str, what: str) -> str:
    """The appointment's current status, when the status machine allows `new_status`.

    Raises IllegalStatusTransition."""
    if not can_transition(appointment.status, new_status):
        raise IllegalStatusTransition(
            f"A {appointment.status} appointment cannot be {what}.",
            details={"status": appointment.status},
        )
    return appointment.status


def _require_active(appointment: Appointment, what: str) -> None:
    if appointment.status not in ACTIVE_STATUSES:
        raise IllegalStatusTransition(
            f"A {appointment.status} appointment cannot be {what}.",
            details={"status": appointment.status},
        )


def booking_reschedule(
    *,
    tenant: Company,
    actor: str,
    appointment_id: int,
    start_time: dt.datetime,
    staff_id: int | None = None,
    sync_calendar: bool = True,
) -> Appointment:
    """Move an active appointment to `start_time` (naive: branch time), optionally to another
    staff member of the same branch; the duration stays. Writes the calendar sync (unless
    `sync_calendar=False`: the move came from the calendar) and the customer's notice to the
    outbox.

    Raises AppointmentNotFound, StaffNotFound, ValidationFailed / SlotNotBookable (400),
    IllegalStatusTransition and SlotTaken (409, details.next_available; nothing changed).
    """
    appointment = booking_get(tenant=tenant, appointment_id=appointment_id)
    _require_active(appointment, "rescheduled")
    branch, service = appointment.branch, appointment.service
    staff = appointment.staff if staff_id is None else staff_get(tenant=tenant, staff_id=staff_id)
    if staff.branch_id != branch.pk:
        raise ValidationFailed(
            "The staff member works at another branch.",
            details={"staff_id": ["Only staff of the appointment's branch can take it over."]},
        )
    zone = ZoneInfo(branch.time_zone)
    start = start_time if timezone.is_aware(start_time) else start_time.replace(tzinfo=zone)
    minutes = round((appointment.end_time - appointment.start_time).total_seconds() / 60)
    try:
        availability.check_bookable(
            tenant=tenant,
            service=service,
            branch=branch,
            staff=staff,
            start=start,
            duration_minutes=minutes,
            exclude_appointment_id=appointment.pk,
        )
    except SlotTaken as exc:
        raise _slot_taken(
            tenant, service, branch, staff.pk, start, minutes, exc, appointment.pk
        ) from exc
    end = start + dt.timedelta(minutes=minutes)
    occupied = (
        start - dt.timedelta(minutes=service.buffer_before_minutes),
        end + dt.timedelta(minutes=service.buffer_after_minutes),
    )
    try:
        with transaction.atomic():
            locked = _locked(tenant, appointment_id)
            _require_active(locked, "rescheduled")
            if (
                not _database_refuses_overlaps()
                and _overlapping(tenant, staff.pk, occupied, locked.pk).exists()
            ):
                raise _slot_taken(
                    tenant, service, branch, staff.pk, start, minutes, None, locked.pk
                )
            before = {
                "start_time": locked.start_time.astimezone(dt.UTC).isoformat(),
                "end_time": locked.end_time.astimezone(dt.UTC).isoformat(),
                "staff_id": locked.staff_id,
            }
            locked.start_time, locked.end_time = start, end
            locked.occupied_start, locked.occupied_end = occupied
            locked.staff = staff
            fields = [
                "start_time",
                "end_time",
                "occupied_start",
                "occupied_end",
                "staff",
                "updated_at",
            ]
            if sync_calendar and _calendar_follows(tenant, actor, locked):
                fields.append("sync_status")
            locked.save(update_fields=fields)
            _notification_message(tenant, actor, locked.pk, "reschedule")
            after = {
                "start_time": start.astimezone(dt.UTC).isoformat(),
                "end_time": end.astimezone(dt.UTC).isoformat(),
                "staff_id": staff.pk,
            }
            audit_record(
                tenant=tenant,
                actor=actor,
                action="appointment.rescheduled",
                obj=locked,
                changes={key: [before[key], after[key]] for key in before},
            )
    except IntegrityError as exc:
        if _violation(exc) != "overlap":
            raise
        raise _slot_taken(
            tenant, service, branch, staff.pk, start, minutes, None, appointment.pk
        ) from exc
    return locked


class BookingChanges(TypedDict, total=False):
    notes: str
    customer_name: str
    customer_email: str
    duration: int


def booking_update(
    *, tenant: Company, actor: str, appointment_id: int, changes: BookingChanges
) -> Appointment:
    """Change an appointment's notes or duration (its start stays) or its customer's name or
    e-mail; only the keys given change. Times are moved with `booking_reschedule`.

    Raises AppointmentNotFound, ValidationFailed (400, per field), IllegalStatusTransition (a
    new duration for an appointment no longer active) and SlotTaken (409: the longer
    appointment would overlap another; nothing changed).
    """
    appointment = booking_get(tenant=tenant, appointment_id=appointment_id)
    email = changes.get("customer_email", "").strip()
    if email:
        _check_email(email, field="customer_email")
    current = round((appointment.end_time - appointment.start_time).total_seconds() / 60)
    minutes = changes.get("duration", current)
    branch, service = appointment.branch, appointment.service
    if minutes != current:
        _require_active(appointment, "lengthened or shortened")
        try:
            availability.check_bookable(
                tenant=tenant,
                service=service,
                branch=branch,
                staff=appointment.staff,
                start=appointment.start_time,
                duration_minutes=minutes,
                exclude_appointment_id=appointment.pk,
            )
        except SlotNotBookable as exc:
            reasons = exc.details.get("start_time") or [exc.message]
            raise ValidationFailed(exc.message, details={"duration": reasons}) from exc
        except SlotTaken as exc:
            raise _slot_taken(
                tenant,
                service,
                branch,
                appointment.staff_id,
                appointment.start_time,
                minutes,
                exc,
                exclude_appointment_id=appointment.pk,
            ) from exc
    try:
        with transaction.atomic():
            locked = _locked(tenant, appointment_id)
            diff: dict[str, list[Any]] = {}
            fields: list[str] = []
            if "notes" in changes and changes["notes"] != locked.notes:
                diff["notes"] = [locked.notes, changes["notes"]]
                locked.notes = changes["notes"]
                fields.append("notes")
            if minutes != current:
                _require_active(locked, "lengthened or shortened")
                end = locked.start_time + dt.timedelta(minutes=minutes)
                occupied_end = end + dt.timedelta(minutes=service.buffer_after_minutes)
                occupied = (locked.occupied_start, occupied_end)
                if (
                    not _database_refuses_overlaps()
                    and _overlapping(tenant, locked.staff_id, occupied, locked.pk).exists()
                ):
                    raise _slot_taken(
                        tenant,
                        service,
                        branch,
                        locked.staff_id,
                        locked.start_time,
                        minutes,
                        exclude_appointment_id=locked.pk,
                    )
                diff["duration"] = [current, minutes]
                locked.end_time, locked.occupied_end = end, occupied_end
                fields += ["end_time", "occupied_end"]
            customer_diff = (
                _customer_update(tenant, locked.customer_id, changes)
                if "customer_name" in changes or "customer_email" in changes
                else {}
            )
            if fields and _calendar_follows(tenant, actor, locked):
                fields.append("sync_status")
            if fields:
                locked.save(update_fields=[*fields, "updated_at"])
            if diff or customer_diff:
                audit_record(
                    tenant=tenant,
                    actor=actor,
                    action="appointment.updated",
                    obj=locked,
                    changes={**diff, **customer_diff},
                )
    except IntegrityError as exc:
        if _violation(exc) != "overlap":
            raise
        raise _slot_taken(
            tenant,
            service,
            branch,
            appointment.staff_id,
            appointment.start_time,
            minutes,
            exclude_appointment_id=appointment.pk,
        ) from exc
    return booking_get(tenant=tenant, appointment_id=appointment_id)


def _customer_update(
    tenant: Company, customer_id: int, changes: BookingChanges
) -> dict[str, list[Any]]:
    customer = Customer.objects.for_tenant(tenant).select_for_update().get(pk=customer_id)
    diff: dict[str, list[Any]] = {}
    if "customer_name" in changes and changes["customer_name"].strip() != customer.name:
        diff["customer_name"] = [customer.name, changes["customer_name"].strip()]
        customer.name = changes["customer_name"].strip()
    if "customer_email" in changes and changes["customer_email"].strip() != customer.email:
        diff["customer_email"] = [customer.email, changes["customer_email"].strip()]
        customer.email = changes["customer_email"].strip()
    if diff:
        customer.save(update_fields=["name", "email", "updated_at"])
    return diff


SOURCE_BY_FRONT_DOOR: dict[str, str] = {
    "mcp": AppointmentSource.MCP,
    "api": AppointmentSource.API,
    "cli": AppointmentSource.ADMIN,
    "admin": AppointmentSource.ADMIN,
    "phone": AppointmentSource.PHONE,
}
