"""SMS reminders before appointments, sent by Celery beat (`integrations.tasks`).

Each appointment is reminded at most once, however often beat runs and however many workers
race: the reminder's `SmsMessage` row is the claim, and its partial unique constraint (one
reminder per appointment) lets exactly one worker create it. The claim is committed before the
provider is called, so a crash after sending cannot lead to a second SMS; a claim whose message
certainly never left (the breaker was open) is released, so the next run tries again.

The text names the appointment's time in its branch's zone, so a reminder sent on Saturday
before the spring DST change still says 10:00 for a Sunday 10:00 appointment.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from bookings.enums import ACTIVE_STATUSES
from bookings.models import Appointment
from integrations import notifications
from integrations.messages import render_booking_message
from integrations.models import SmsKind, SmsMessage

logger = logging.getLogger("askproai.reminders")

# A booking made this shortly before its start was just confirmed: no reminder on top.
MIN_LEAD_TIME = dt.timedelta(hours=2)


def _due(now: dt.datetime) -> QuerySet[Appointment]:
    hours = settings.SMS_REMINDER_HOURS_BEFORE
    return Appointment.objects.filter(
        status__in=ACTIVE_STATUSES,
        start_time__gt=now,
        start_time__lte=now + dt.timedelta(hours=hours),
        tenant__is_active=True,
        customer__erased_at__isnull=True,
    ).exclude(customer__phone="")


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
    another run claimed it first. A failed send is recorded on the returned message."""
    appointment = (
        _due(now)
        .filter(pk=appointment_id)
        .select_related("tenant", "branch", "service", "staff", "customer")
        .first()
    )
    if appointment is None:
        return None
    customer = appointment.customer
    context = notifications.BookingConfirmation(
        confirmation_number=appointment.confirmation_number,
        service_name=appointment.service.name,
        branch_name=appointment.branch.name,
        staff_name=appointment.staff.name,
        start=appointment.start_time.astimezone(ZoneInfo(appointment.branch.time_zone)),
        customer_name=customer.name,
        customer_phone=customer.phone,
        customer_email=customer.email,
    )
    body = render_booking_message(appointment.tenant, SmsKind.REMINDER, context)
    try:
        with transaction.atomic():
            message = SmsMessage.objects.create(
                tenant=appointment.tenant,
                appointment=appointment,
                kind=SmsKind.REMINDER,
                to=customer.phone,
                body=body,
                provider=notifications.get_sms_backend().name,
            )
    except IntegrityError:
        return None  # claimed by another run or worker
    try:
        notifications.sms_deliver_recorded(message)
    except notifications.SmsNotConfigured:
        logger.info("reminder for appointment %s skipped: SMS not configured", appointment_id)
    except notifications.NotificationError as exc:
        if exc.not_sent:
            logger.warning("reminder for appointment %s postponed: %s", appointment_id, exc)
            message.delete()
        else:
            logger.warning("reminder for appointment %s failed: %s", appointment_id, exc)
    return message


def reminders_send_due(*, now: dt.datetime) -> int:
    """Send every reminder due at `now`; returns how many messages reached the provider."""
    sent = 0
    for appointment_id in reminders_due(now=now):
        message = reminder_send(appointment_id=appointment_id, now=now)
        if message is not None and message.provider_sid:
            sent += 1
    return sent
