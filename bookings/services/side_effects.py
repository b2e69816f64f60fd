"""The side effects of bookings: the external calendar's copy and the customer's notices.

Every write that changes an appointment writes its side effects to the transactional outbox
(`mcp_core.outbox`) in its own transaction: "calendar.sync" when the calendar keeps a copy,
"notification.booking" (confirmation, cancellation, reschedule) for the customer. Celery
delivers them after commit; the booking saga claims the new appointment's messages and delivers
them inline instead (`booking_calendar_deliver`, `booking_notification_deliver`), so a healthy
calendar answers `synced` at once.

The outbox handlers of both topics are declared at the end of this module (thin: they read the
payload and call a service here); it is imported with `bookings.services`, so web and worker
processes know them.

- "calendar.sync" {appointment_id}: bring the appointment's calendar copy in line; a backend
  outage is retried, a request the calendar refused is dead-lettered at once; when retries run
  out the appointment's sync is marked failed.
- "notification.booking" {appointment_id, kind}: tell the customer (confirmation,
  cancellation, reschedule); retried while no channel reaches them.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction

from bookings import calendar, notifications
from bookings.calendar import CalendarError
from bookings.enums import SyncStatus
from bookings.events import emit_booking_event
from bookings.models import Appointment
from mcp_core import outbox
from mcp_core.audit import Ref, audit_record
from mcp_core.models import OutboxMessage
from tenants import policy
from tenants.models import Company

logger = logging.getLogger(__name__)

CALENDAR_TOPIC = "calendar.sync"
NOTIFICATION_TOPIC = "notification.booking"


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

    Raises CalendarError when the backend failed (the sync status stays as it was). A tenant
    whose plan lacks `calendar_sync` is skipped ('not_required', logged and audited): the
    calendar is not asked, the outbox message is done, not dead-lettered."""
    backend = calendar.get_calendar_backend()
    if not policy.feature_allowed(tenant, "calendar_sync"):
        return _calendar_skipped(tenant, appointment_id)
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
        syncs = calendar.requires_sync(backend, tenant=tenant, service_id=appointment.service_id)
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


def _calendar_skipped(tenant: Company, appointment_id: int) -> str:
    """The plan has no calendar sync: nothing to keep in line; a waiting sync is not needed."""
    waiting = (
        Appointment.objects.for_tenant(tenant)
        .filter(pk=appointment_id)
        .exclude(sync_status=SyncStatus.NOT_REQUIRED)
        .update(sync_status=SyncStatus.NOT_REQUIRED)
    )
    logger.info(
        "calendar sync of appointment %s (tenant %s) skipped: the plan has no calendar_sync",
        appointment_id,
        tenant.pk,
    )
    if waiting:
        with transaction.atomic():
            audit_record(
                tenant=tenant,
                actor=ACTOR,
                action="calendar_sync.skipped",
                obj=Ref(Appointment, appointment_id),
                changes={"reason": "plan", "feature": "calendar_sync"},
            )
    return SyncStatus.NOT_REQUIRED.value


def _calendar_payload(actor: str, appointment_id: int) -> dict[str, Any]:
    return {"appointment_id": appointment_id, "actor": actor}


def _notification_payload(actor: str, appointment_id: int, kind: str) -> dict[str, Any]:
    return {"appointment_id": appointment_id, "kind": kind, "actor": actor}


def calendar_message(
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


def notification_message(
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
    *, tenant: Company, actor: str, appointment_id: int, message_id: int, claimed: bool = True
) -> str:
    """Step 2 of the booking saga: deliver the new appointment's calendar message now and
    return the appointment's sync status. A failed delivery does not fail the booking: the
    appointment stays `pending` and the outbox retries the message with back-off.
    `claimed=False` (recovery rolling the saga forward): the message is attempted only when no
    other attempt holds it (its lease ran out), else left to the outbox."""
    delivery = _deliver(
        outbox.claimed_message(
            tenant=tenant,
            message_id=message_id,
            topic=CALENDAR_TOPIC,
            payload=_calendar_payload(actor, appointment_id),
        ),
        claimed=claimed,
    )
    if delivery is not None and delivery.delivered and delivery.result:
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
        appointment = Appointment.objects.for_tenant(tenant).get(pk=appointment_id)
        emit_booking_event(tenant, "booking.sync_failed", appointment)
    logger.error(
        "calendar sync of appointment %s (tenant %s) failed for good: %s; the appointment "
        "stands, its calendar copy needs an operator",
        appointment_id,
        tenant.pk,
        error,
    )


def calendar_follows(tenant: Company, actor: str, appointment: Appointment) -> bool:
    """After a change: mark the calendar copy pending and write its outbox message when there
    is one to keep in line (inside the caller's transaction; the caller saves `sync_status`).
    """
    backend = calendar.get_calendar_backend()
    if not (
        appointment.external_calendar_id
        or calendar.requires_sync(backend, tenant=tenant, service_id=appointment.service_id)
    ):
        return False
    appointment.sync_status = SyncStatus.PENDING
    calendar_message(tenant, actor, appointment.pk)
    return True


# ------------------------------------------------------------------------------ notifications


class NotificationUndelivered(Exception):
    """No channel reached the customer; the outbox retries the message."""


def booking_notify(
    *, tenant: Company, actor: str, appointment_id: int, kind: str, retry: bool = False
) -> list[str]:
    """Tell the customer about their appointment (kind confirmation, cancellation or
    reschedule): e-mail when given, else SMS; SMS when the e-mail fails. Each failed channel is
    audited as 'notification.failed', the outcome as 'appointment.notified'. Returns the
    channels that succeeded (none for a deleted appointment or an erased customer).

    `retry`: an earlier attempt of this message ran (it may have died mid-send).
    Raises NotificationUndelivered when every channel tried failed (the outbox retries)."""
    report = notifications.deliver_booking_notification(
        tenant=tenant, appointment_id=appointment_id, kind=kind, retry=retry
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
    *, tenant: Company, actor: str, appointment_id: int, message_id: int, claimed: bool = True
) -> list[str]:
    """Step 3 of the booking saga: deliver the confirmation message now; the channels used
    (none when it failed: the outbox retries it, the booking stands). `claimed=False`: as for
    `booking_calendar_deliver`; a message delivered already is not sent again."""
    delivery = _deliver(
        outbox.claimed_message(
            tenant=tenant,
            message_id=message_id,
            topic=NOTIFICATION_TOPIC,
            payload=_notification_payload(actor, appointment_id, "confirmation"),
        ),
        claimed=claimed,
    )
    if delivery is None or not delivery.delivered or not delivery.result:
        return []
    return [str(channel) for channel in delivery.result.get("sent", [])]


def _deliver(message: OutboxMessage, *, claimed: bool) -> outbox.Delivery | None:
    """Attempt a message the saga wrote claimed: as its claimant (`claimed`), or as anyone
    else, who attempts it only once no other attempt holds it (None: it is gone)."""
    if claimed:
        return outbox.deliver_claimed(message)
    return outbox.deliver(message.pk)


# ------------------------------------------------------------------------------ outbox handlers

ACTOR = outbox.OUTBOX_ACTOR


def _actor(message: OutboxMessage) -> str:
    """Who caused the message (its audit rows name them), else the outbox itself."""
    return str(message.payload.get("actor") or ACTOR)


def _calendar_gave_up(message: OutboxMessage) -> None:
    booking_calendar_sync_gave_up(
        tenant=message.tenant,
        actor=ACTOR,
        appointment_id=int(message.payload["appointment_id"]),
        error=message.last_error,
    )


@outbox.handler(CALENDAR_TOPIC, on_dead=_calendar_gave_up)
def deliver_calendar_sync(message: OutboxMessage) -> dict[str, Any]:
    appointment_id = int(message.payload["appointment_id"])
    try:
        status = booking_calendar_sync(tenant=message.tenant, appointment_id=appointment_id)
    except CalendarError as exc:
        booking_calendar_sync_failed(
            tenant=message.tenant,
            actor=_actor(message),
            appointment_id=appointment_id,
            error=str(exc),
            attempt=message.attempts,
        )
        if exc.permanent:
            raise outbox.PermanentDeliveryError(str(exc)) from exc
        raise
    return {"appointment_id": appointment_id, "sync_status": status}


@outbox.handler(NOTIFICATION_TOPIC)
def deliver_booking_notification(message: OutboxMessage) -> dict[str, Any]:
    appointment_id = int(message.payload["appointment_id"])
    kind = str(message.payload["kind"])
    sent = booking_notify(
        tenant=message.tenant,
        actor=_actor(message),
        appointment_id=appointment_id,
        kind=kind,
        retry=message.attempts > 1,
    )
    return {"appointment_id": appointment_id, "kind": kind, "sent": sent}
