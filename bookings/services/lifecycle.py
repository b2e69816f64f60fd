"""The booking lifecycle after creation: cancel, confirm, reschedule and update an appointment.

Each runs in its own transaction with the appointment row locked, writes an audit row, and
writes its side effects (the calendar sync when there is a calendar copy, the customer's
notice) to the outbox in that transaction; Celery delivers them after commit
(`bookings.services.side_effects`). A new time or length is checked against the availability
rules first (`check_slot`) and against other appointments again under the lock
(`overlap_at_lock`); on PostgreSQL the exclusion constraint has the last word (its
IntegrityError becomes SlotTaken).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.enums import ACTIVE_STATUSES, AppointmentStatus
from bookings.errors import AppointmentNotFound, IllegalStatusTransition, SlotNotBookable
from bookings.events import emit_booking_event
from bookings.models import Appointment, Customer
from bookings.selectors import booking_get
from bookings.services.conflicts import check_slot, overlap_at_lock, slot_taken, violation
from bookings.services.customers import check_email
from bookings.services.side_effects import calendar_follows, notification_message
from bookings.status import can_transition
from common.errors import ValidationFailed
from mcp_core.audit import audit_record
from staff.selectors import staff_get
from tenants.models import Company


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
    notify_customer: bool = True,
) -> Appointment:
    """Cancel an appointment, freeing its slot. Writes the cancellation notice (unless
    `notify_customer=False`: the operator already told the customer) and, when there is a
    calendar copy, its sync to the outbox; `sync_calendar=False` when the calendar is where
    the cancellation came from (a Cal.com webhook), so it is not echoed back.

    Raises AppointmentNotFound (also for another tenant's id) and IllegalStatusTransition.
    """
    appointment = _locked(tenant, appointment_id)
    previous = _require_transition(appointment, AppointmentStatus.CANCELLED, "cancelled")
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancelled_at = timezone.now()
    appointment.cancellation_reason = reason[:255]
    fields = ["status", "cancelled_at", "cancellation_reason", "updated_at"]
    if sync_calendar and calendar_follows(tenant, actor, appointment):
        fields.append("sync_status")
    appointment.save(update_fields=fields)
    if notify_customer:
        notification_message(tenant, actor, appointment.pk, "cancellation")
    changes: dict[str, Any] = {"status": [previous, AppointmentStatus.CANCELLED], "reason": reason}
    if not notify_customer:
        changes["customer_notified"] = False
    audit_record(
        tenant=tenant, actor=actor, action="appointment.cancelled", obj=appointment, changes=changes
    )
    emit_booking_event(tenant, "booking.cancelled", appointment)
    return appointment


@transaction.atomic
def booking_mark_no_show(*, tenant: Company, actor: str, appointment_id: int) -> Appointment:
    """Record that the customer of a confirmed appointment did not come; nothing is sent.

    Raises AppointmentNotFound and IllegalStatusTransition (anything but confirmed)."""
    appointment = _locked(tenant, appointment_id)
    previous = _require_transition(appointment, AppointmentStatus.NO_SHOW, "marked as no-show")
    appointment.status = AppointmentStatus.NO_SHOW
    appointment.save(update_fields=["status", "updated_at"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="appointment.no_show",
        obj=appointment,
        changes={"status": [previous, AppointmentStatus.NO_SHOW]},
    )
    emit_booking_event(tenant, "booking.updated", appointment, changed=["status"])
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
    if calendar_follows(tenant, actor, appointment):
        fields.append("sync_status")
    appointment.save(update_fields=fields)
    notification_message(tenant, actor, appointment.pk, "confirmation")
    audit_record(
        tenant=tenant,
        actor=actor,
        action="appointment.confirmed",
        obj=appointment,
        changes={"status": [previous, AppointmentStatus.CONFIRMED]},
    )
    emit_booking_event(tenant, "booking.confirmed", appointment)
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
    check_slot(
        tenant=tenant,
        service=service,
        branch=branch,
        staff=staff,
        start=start,
        minutes=minutes,
        exclude_appointment_id=appointment.pk,
    )
    end = start + dt.timedelta(minutes=minutes)
    occupied = (
        start - dt.timedelta(minutes=service.buffer_before_minutes),
        end + dt.timedelta(minutes=service.buffer_after_minutes),
    )
    try:
        with transaction.atomic():
            locked = _locked(tenant, appointment_id)
            _require_active(locked, "rescheduled")
            if overlap_at_lock(tenant, staff.pk, occupied, locked.pk):
                raise slot_taken(tenant, service, branch, staff.pk, start, minutes, None, locked.pk)
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
            if sync_calendar and calendar_follows(tenant, actor, locked):
                fields.append("sync_status")
            locked.save(update_fields=fields)
            notification_message(tenant, actor, locked.pk, "reschedule")
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
            emit_booking_event(tenant, "booking.rescheduled", locked, previous=before)
    except IntegrityError as exc:
        if violation(exc) != "overlap":
            raise
        raise slot_taken(
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
        check_email(email, field="customer_email")
    current = round((appointment.end_time - appointment.start_time).total_seconds() / 60)
    minutes = changes.get("duration", current)
    branch, service = appointment.branch, appointment.service
    if minutes != current:
        _require_active(appointment, "lengthened or shortened")
        try:
            check_slot(
                tenant=tenant,
                service=service,
                branch=branch,
                staff=appointment.staff,
                start=appointment.start_time,
                minutes=minutes,
                exclude_appointment_id=appointment.pk,
            )
        except SlotNotBookable as exc:
            reasons = exc.details.get("start_time") or [exc.message]
            raise ValidationFailed(exc.message, details={"duration": reasons}) from exc
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
                if overlap_at_lock(tenant, locked.staff_id, occupied, locked.pk):
                    raise slot_taken(
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
            if fields and calendar_follows(tenant, actor, locked):
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
                # Which fields changed, not their values: the customer's name stays out.
                changed = sorted({*diff, *customer_diff})
                emit_booking_event(tenant, "booking.updated", locked, changed=changed)
    except IntegrityError as exc:
        if violation(exc) != "overlap":
            raise
        raise slot_taken(
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
