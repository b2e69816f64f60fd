"""Telling a customer about their booking: which channel, and what happens when it fails.

E-mail when the customer gave an address (through Django's configured mail backend), SMS
otherwise (`bookings.notifications.sms`); a failed e-mail falls back to SMS; no SMS provider
configured: the SMS is skipped, not failed. The texts are `bookings.notifications.texts`.
Nothing here raises for a failed channel: the report says what went out and what failed, and
the booking services (the outbox's "notification.booking" messages) record it and retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import get_connection, send_mail

from bookings.enums import SmsKind
from bookings.notifications.sms import SMS, NotificationError, SmsNotConfigured, send_sms
from bookings.notifications.texts import BookingConfirmation, booking_email, render_booking_message
from bookings.queries import booking_message_details
from common import deadline
from tenants import policy
from tenants.models import Company

logger = logging.getLogger("askproai.notifications")

EMAIL = "email"
BOOKING_KINDS = (SmsKind.CONFIRMATION, SmsKind.CANCELLATION, SmsKind.RESCHEDULE)


def send_email(to: str, subject: str, body: str) -> None:
    """Send one e-mail through Django's configured mail backend (INTEGRATION_HTTP_TIMEOUT).

    Raises NotificationError when the backend refuses or cannot be reached."""
    try:
        mail_connection = get_connection(timeout=deadline.cap(settings.INTEGRATION_HTTP_TIMEOUT))
        send_mail(subject, body, None, [to], connection=mail_connection)
    except Exception as exc:
        raise NotificationError(f"email: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class Failure:
    channel: str
    error: str
    fallback: str | None  # the channel tried instead, if any


@dataclass(frozen=True)
class DeliveryReport:
    sent: list[str] = field(default_factory=list)  # channels that succeeded, in order
    failed: list[Failure] = field(default_factory=list)


def deliver_booking_confirmation(
    confirmation: BookingConfirmation,
    *,
    tenant: Company | None = None,
    appointment_id: int | None = None,
    template: str | None = None,
) -> DeliveryReport:
    """Confirm a booking to the customer. The primary channel is e-mail when the customer gave
    an address, SMS otherwise; a failed e-mail falls back to SMS. With `tenant` the SMS uses
    the tenant's template (`template` when the caller read it already, "" for none) and is
    recorded; a tenant whose plan lacks SMS gets no SMS. Raises nothing: failures are in the
    report for the caller to record."""
    return _deliver(
        SmsKind.CONFIRMATION,
        confirmation,
        tenant=tenant,
        appointment_id=appointment_id,
        template=template,
    )


def deliver_booking_notification(
    *, tenant: Company, appointment_id: int, kind: str, retry: bool = False
) -> DeliveryReport:
    """Tell the customer about an appointment of `tenant` (the outbox's "notification.booking"
    messages): kind "confirmation", "cancellation" or "reschedule", by e-mail when given, else
    SMS in the tenant's wording (`texts.render_booking_message`), recorded as an `SmsMessage`;
    SMS when the e-mail fails; no SMS provider configured: skipped. `retry`: an earlier
    attempt ran, so a confirmation SMS it left `claimed` is taken over (`send_sms`).
    An appointment gone or a customer erased gets nothing (an empty report). Raises ValueError
    for an unknown kind; channel failures are in the report."""
    if kind not in BOOKING_KINDS:
        raise ValueError(f"unknown booking notification kind {kind!r}")
    found = _notification_details(tenant, appointment_id, kind)
    if found is None:
        return DeliveryReport()
    booking, template = found
    return _deliver(
        kind,
        booking,
        tenant=tenant,
        appointment_id=appointment_id,
        template=template,
        retry=retry,
    )


def _deliver(
    kind: str,
    booking: BookingConfirmation,
    *,
    tenant: Company | None,
    appointment_id: int | None,
    template: str | None,
    retry: bool = False,
) -> DeliveryReport:
    sent: list[str] = []
    failed: list[Failure] = []
    if booking.customer_email:
        subject, body = booking_email(kind, booking)
        try:
            send_email(booking.customer_email, subject, body)
            sent.append(EMAIL)
        except NotificationError as exc:
            logger.warning("booking %s e-mail failed, falling back to SMS: %s", kind, exc)
            failed.append(Failure(EMAIL, str(exc), fallback=SMS))
    if not sent and booking.customer_phone:
        if tenant is not None and not policy.feature_allowed(tenant, "sms_notifications"):
            logger.info("booking %s SMS skipped: the plan does not include SMS", kind)
            return DeliveryReport(sent=sent, failed=failed)
        try:
            send_sms(
                booking.customer_phone,
                render_booking_message(tenant, kind, booking, template=template),
                tenant=tenant,
                kind=kind,
                appointment_id=appointment_id,
                take_over=retry,
            )
            sent.append(SMS)
        except SmsNotConfigured:
            # Skipped, not failed: nothing to retry until an SMS provider is configured.
            logger.info("booking %s SMS skipped: no SMS provider configured", kind)
        except NotificationError as exc:
            logger.warning("booking %s SMS failed: %s", kind, exc)
            failed.append(Failure(SMS, str(exc), fallback=None))
    return DeliveryReport(sent=sent, failed=failed)


def _notification_details(
    tenant: Company, appointment_id: int, kind: str
) -> tuple[BookingConfirmation, str] | None:
    """What a message about the appointment says, and the tenant's template of `kind` ("" for
    none); None for an appointment gone or a customer erased."""
    row = booking_message_details(tenant_id=tenant.pk, appointment_id=appointment_id, kind=kind)
    if row is None or row[9] is not None:
        return None
    number, start, service, branch, zone, staff, name, phone, email, _erased, template = row
    booking = BookingConfirmation(
        confirmation_number=number,
        service_name=service,
        branch_name=branch,
        staff_name=staff,
        start=start.astimezone(ZoneInfo(zone)),
        customer_name=name,
        customer_phone=phone,
        customer_email=email,
    )
    return booking, template or ""
