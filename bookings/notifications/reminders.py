"""SMS reminders before appointments: Celery beat (`bookings.tasks.send_due_reminders`)
writes one outbox message per appointment due (`mcp_core.outbox`, topic `sms.reminder`, keyed by
the appointment, so beat running twice writes it once); its delivery sends the SMS.

Each appointment is reminded at most once, however often beat runs or a message is delivered
and however many workers race: the reminder's `SmsMessage` row is the claim, and its partial
unique constraint (one reminder per appointment) lets exactly one worker create it. The claim is
committed before the provider is called, so a crash after sending cannot lead to a second SMS.
A claim whose message certainly never left (the breaker was open) is released and the delivery
fails, so the outbox retries it with back-off; a reminder no longer due by then (the appointment
began, was cancelled) is dropped.

The text names the appointment's time in its branch's zone, so a reminder sent on Saturday
before the spring DST change still says 10:00 for a Sunday 10:00 appointment.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from bookings.enums import ACTIVE_STATUSES, SmsKind
from bookings.models import Appointment, SmsMessage
from bookings.notifications import sms
from bookings.notifications.texts import booking_confirmation_of, render_booking_message
from mcp_core import outbox
from mcp_core.models import OutboxMessage
from tenants import policy

logger = logging.getLogger("askproai.reminders")

REMINDER_TOPIC = "sms.reminder"


class ReminderPostponed(Exception):
    """The reminder could not be handed over and certainly was not sent: retry later."""


# A booking made this shortly before its start was just confirmed: no reminder on top.
MIN_LEAD_TIME = dt.timedelta(hours=2)


def _due(now: dt.datetime) -> QuerySet[Appointment]:
    hours = settings.SMS_REMINDER_HOURS_BEFORE
    # all_tenants: the reminder sweep serves every active tenant.
    return (
        Appointment.objects.all_tenants()
        .filter(
            status__in=ACTIVE_STATUSES,
            start_time__gt=now,
            start_time__lte=now + dt.timedelta(hours=hours),
            tenant__is_active=True,
            customer__erased_at__isnull=True,
        )
        .exclude(customer__phone="")
    )


def reminders_due(*, now: dt.datetime) -> list[int]:
    """Ids of the appointments whose reminder is due at `now` and not yet claimed."""
    if settings.SMS_REMINDER_HOURS_BEFORE <= 0:
        return []
    return [
        appointment.pk
        for appointment in _due(now)
        .exclude(sms_messages__kind=SmsKind.REMINDER)
        .only("pk", "start_time", "created_at")
        .order_by("start_time")
        if appointment.start_time - appointment.created_at >= MIN_LEAD_TIME
    ]


def reminder_send(*, appointment_id: int, now: dt.datetime) -> SmsMessage | None:
    """Claim and send the reminder of one appointment; None when it is not due any more or
    another run claimed it first, or when the tenant's plan no longer includes SMS. A failed
    send is recorded on the returned message."""
    appointment = (
        _due(now)
        .filter(pk=appointment_id)
        .select_related("tenant", "branch", "service", "staff", "customer")
        .first()
    )
    if appointment is None or not policy.feature_allowed(appointment.tenant, "sms_notifications"):
        return None
    customer = appointment.customer
    context = booking_confirmation_of(appointment)
    body = render_booking_message(appointment.tenant, SmsKind.REMINDER, context)
    try:
        with transaction.atomic():
            message = SmsMessage.objects.create(
                tenant=appointment.tenant,
                appointment=appointment,
                kind=SmsKind.REMINDER,
                to=customer.phone,
                body=body,
                provider=sms.get_sms_backend().name,
            )
    except IntegrityError:
        return None  # claimed by another run or worker
    try:
        sms.sms_deliver_recorded(message)
    except sms.SmsNotConfigured:
        logger.info("reminder for appointment %s skipped: SMS not configured", appointment_id)
    except sms.NotificationError as exc:
        if exc.not_sent:
            message.delete()
            raise ReminderPostponed(str(exc)) from exc
        # It may have left (a time-out): never risk a second SMS, the failure stays recorded.
        logger.warning("reminder for appointment %s failed: %s", appointment_id, exc)
    return message


def reminders_enqueue_due(*, now: dt.datetime) -> list[int]:
    """Write the outbox message of every reminder due at `now` (once per appointment: the key
    dedupes) whose tenant's plan includes SMS; returns those appointment ids. Delivery follows
    each commit."""
    due = reminders_due(now=now)
    # all_tenants: the due appointments of every tenant, found by reminders_due.
    appointments = (
        Appointment.objects.all_tenants()
        .filter(pk__in=due)
        .select_related("tenant__subscription")
        .order_by("start_time")
    )
    enqueued: list[int] = []
    for appointment in appointments:
        if not policy.feature_allowed(appointment.tenant, "sms_notifications"):
            continue
        enqueued.append(appointment.pk)
        with transaction.atomic():
            outbox.enqueue(
                tenant=appointment.tenant,
                topic=REMINDER_TOPIC,
                payload={"appointment_id": appointment.pk},
                key=f"{REMINDER_TOPIC}:{appointment.pk}",
            )
    return enqueued


@outbox.handler(REMINDER_TOPIC)
def deliver_reminder(message: OutboxMessage) -> dict[str, object]:
    """The outbox delivery of one reminder. Raises ReminderPostponed (the outbox retries)."""
    appointment_id = int(message.payload["appointment_id"])
    sms = reminder_send(appointment_id=appointment_id, now=timezone.now())
    if sms is None:
        return {"appointment_id": appointment_id, "sent": False, "reason": "not_due_or_claimed"}
    return {
        "appointment_id": appointment_id,
        "sent": bool(sms.provider_sid),
        "sms_id": sms.pk,
        "status": sms.status,
    }
