"""The booking saga, declared with its steps, and its reserve step: the appointment itself.

    reserve        booking_reserve                 the point of no return (pivot)
    calendar_sync  booking_calendar_deliver        rolled forward, never undone
    notifications  booking_notification_deliver    rolled forward, never undone

`booking_reserve` runs in the transaction that creates the saga run: it checks the monthly
quota, inserts the appointment for the first candidate staff member whose time is still free
and writes its audit row and side effects to the outbox ("calendar.sync" when the calendar
keeps a copy, "notification.booking" always), both claimed for the saga's next steps, which
(`bookings.services.side_effects`) only deliver those messages inline (the outbox retries them
when that fails), so the response can say `synced` and which channels confirmed the booking.
A failed delivery does not fail the booking.

The saga is declared once, at import of this module (every process imports it with
`bookings.services`, so each knows its steps for crash recovery); its steps live here beside
the request and result they read, so a step is one service call. No step holds a transaction
open while the next one runs. Once the reserve step has committed, the booking stands: a later
step that fails or a process that dies is rolled forward, never compensated
(docs/architecture.md, "Sagas"). A step that only found the idempotency key's earlier booking
(`replayed`) makes the later steps skip: that booking had its own run. The request and the
result are JSON-able dataclasses: the saga persists them as the run's context and the step's
result.

No double booking: on PostgreSQL the exclusion constraint has the last word (a new appointment
it refuses is not inserted: `insert_unless_conflict`); on SQLite the overlap query runs under
the write lock (`overlap_at_lock`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from bookings.confirmation import new_confirmation_number
from bookings.enums import AppointmentStatus, SyncStatus
from bookings.events import booking_payload
from bookings.models import Appointment
from bookings.queries import appointment_insert_unless_conflict
from bookings.selectors import bookings_created_this_month
from bookings.services.conflicts import overlap_at_lock, slot_taken
from bookings.services.side_effects import (
    booking_calendar_deliver,
    booking_notification_deliver,
    calendar_message,
    notification_message,
)
from common.errors import ApplicationError, Conflict, TransactionFailed
from mcp_core.audit import Ref, audit_record
from mcp_core.events import emit
from mcp_core.saga import Saga, SagaContext, Step
from staff.models import Service
from tenants import policy
from tenants.models import Branch, Company

CONFIRMATION_NUMBER_ATTEMPTS = 5


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


def key_reused(key: str) -> Conflict:
    return Conflict(
        "The idempotency key was already used with other arguments.",
        details={"idempotency_key": [f"'{key}' belongs to another booking request."]},
    )


def check_quota(tenant: Company, *, lock: bool) -> None:
    """Raises PlanLimitReached (`tenants.policy`) when the plan's monthly bookings are used up.
    With `lock` (inside the reserving transaction) the tenant row is locked first, so concurrent
    bookings of one tenant count one after another and the limit is exact; unlimited plans take
    no lock.
    NO KEY UPDATE: inserts of other rows referring to the tenant (their key share) go on."""
    if policy.limit_of(tenant, "monthly_bookings") == policy.UNLIMITED:
        return
    if lock:
        tenant_row = Company.objects.select_for_update(no_key=True).filter(pk=tenant.pk)
        tenant_row.values_list("pk", flat=True).first()  # takes the lock
    policy.limit_check(tenant, "monthly_bookings", used=bookings_created_this_month(tenant=tenant))


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
        check_quota(tenant, lock=True)
        for staff_id in request.staff_ids:
            reservation = _reserve_for(tenant, request, staff_id, saga_run_id)
            if reservation is not None:
                return reservation
    branch = Branch.objects.for_tenant(tenant).get(pk=request.branch_id)
    service = Service.objects.for_tenant(tenant).get(pk=request.service_id)
    asked = request.staff_ids[0] if request.staff_requested else None
    raise slot_taken(tenant, service, branch, asked, request.start, request.duration)


def _reserve_for(
    tenant: Company, request: ReservationRequest, staff_id: int, saga_run_id: str
) -> Reservation | None:
    """The reservation with `staff_id`, or None when their time is taken.

    Runs in `booking_reserve`'s transaction without a savepoint: a conflicting row (the slot
    taken meanwhile, the confirmation number drawn twice, the idempotency key's booking) makes
    the insert a no-op rather than an error that would abort the transaction, and
    `_refused_by` asks which constraint it was."""
    occupied = request.occupied
    if overlap_at_lock(tenant, staff_id, occupied):
        return None
    for _ in range(CONFIRMATION_NUMBER_ATTEMPTS):
        confirmation_number = new_confirmation_number()
        appointment_id = appointment_insert_unless_conflict(
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
    # all_tenants: confirmation numbers are unique across tenants.
    if Appointment.objects.all_tenants().filter(confirmation_number=confirmation_number).exists():
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
    data = booking_payload(
        appointment_id=appointment_id,
        confirmation_number=confirmation_number,
        status=AppointmentStatus.CONFIRMED.value,
        start=request.start,
        end=request.end,
        branch_id=request.branch_id,
        service_id=request.service_id,
        staff_id=staff_id,
        customer_id=request.customer_id,
        source=request.source,
    )
    emit(
        tenant=tenant,
        event="booking.created",
        data=data,
        branch_id=request.branch_id,
        customer_id=request.customer_id,
    )
    # Claimed for the saga's next steps, which deliver them right after the commit.
    sync_message = None
    if request.sync_status == SyncStatus.PENDING:
        sync_message = calendar_message(tenant, request.actor, appointment_id, inline=True)
    notification = notification_message(
        tenant, request.actor, appointment_id, "confirmation", inline=True
    )
    return Reservation(
        appointment_id=appointment_id,
        confirmation_number=confirmation_number,
        staff_id=staff_id,
        replayed=False,
        calendar_message_id=sync_message.pk if sync_message else None,
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
        raise key_reused(key)
    return Reservation(
        appointment_id=existing.pk,
        confirmation_number=existing.confirmation_number,
        staff_id=existing.staff_id,
        replayed=True,
    )


# ------------------------------------------------------------------ the saga and its steps


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


def booking_saga_run(
    *, tenant: Company, request: ReservationRequest
) -> tuple[Reservation, dict[str, dict[str, Any]]]:
    """Run the saga; a refusal of the reserve step (slot taken, quota, key reused) is raised as
    itself, anything else as the saga's TransactionFailed. Returns the reservation and every
    step's result."""
    try:
        results = booking_create_saga.run(tenant=tenant, context=request.to_context()).results
    except TransactionFailed as exc:
        cause = exc.__cause__
        if isinstance(cause, ApplicationError) and exc.details.get("failed_step") == "reserve":
            raise cause from None
        raise
    return Reservation.from_result(results["reserve"]), results


def reserved_appointment(
    *,
    tenant: Company,
    branch: Branch,
    service: Service,
    request: ReservationRequest,
    reservation: Reservation,
    results: dict[str, dict[str, Any]],
) -> Appointment:
    """The row as the reserve step wrote it and the calendar step left it, without reading it
    back (unsaved)."""
    occupied_start, occupied_end = request.occupied
    return Appointment(
        pk=reservation.appointment_id,
        tenant=tenant,
        branch=branch,
        service=service,
        staff_id=reservation.staff_id,
        customer_id=request.customer_id,
        start_time=request.start,
        end_time=request.end,
        occupied_start=occupied_start,
        occupied_end=occupied_end,
        status=AppointmentStatus.CONFIRMED,
        confirmation_number=reservation.confirmation_number,
        source=request.source,
        call_id=request.call_id,
        idempotency_key=request.idempotency_key,
        request_fingerprint=request.fingerprint,
        sync_status=results.get("calendar_sync", {}).get("sync_status", request.sync_status),
        price=service.price,
        notes=request.notes,
    )
