"""Customer notifications: SMS through a pluggable backend, e-mail through Django's mail.

`settings.SMS_BACKEND` names the SMS backend: a key of `SMS_BACKENDS` or a dotted path to a
class with the `SmsBackend` shape. `console` (the default) logs the text and keeps it in the
in-memory outbox `sent_messages` (the last OUTBOX_LIMIT messages), which tests read.

Sending never raises anything but `NotificationError`; what to do about a failure (record it,
fall back to SMS) is the caller's decision, see `deliver_booking_confirmation`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.utils.module_loading import import_string

from mcp_core.breakers import call_with_breaker

if TYPE_CHECKING:
    from tenants.models import Company

logger = logging.getLogger("askproai.notifications")

SMS = "sms"
EMAIL = "email"
OUTBOX_LIMIT = 1000
_WEEKDAYS_DE = ("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So.")


class NotificationError(Exception):
    """A message could not be handed to its channel."""


@dataclass(frozen=True)
class SentMessage:
    channel: str
    to: str
    body: str
    subject: str = ""


# The console backend's outbox, newest last.
sent_messages: list[SentMessage] = []
_outbox_lock = threading.Lock()


class SmsBackend(Protocol):
    name: str

    def send(self, to: str, body: str) -> str:
        """Hand one SMS to the provider; returns the provider's message id."""
        ...


class ConsoleSms:
    """Logs every SMS instead of sending it and keeps it in `sent_messages`."""

    name = "console"

    def send(self, to: str, body: str) -> str:
        logger.info("sms (console backend) to %s: %s", to, body)
        with _outbox_lock:
            sent_messages.append(SentMessage(channel=SMS, to=to, body=body))
            del sent_messages[:-OUTBOX_LIMIT]
        return f"console-{uuid.uuid4().hex[:12]}"


SMS_BACKENDS: dict[str, Callable[[], SmsBackend]] = {"console": ConsoleSms}
_instances: dict[str, SmsBackend] = {}


def get_sms_backend() -> SmsBackend:
    """The configured SMS backend, one instance per name and process.

    Raises ImportError for a name that is neither a key of SMS_BACKENDS nor importable."""
    name = settings.SMS_BACKEND or "console"
    backend = _instances.get(name)
    if backend is None:
        factory = SMS_BACKENDS.get(name) or import_string(name)
        backend = _instances.setdefault(name, factory())
    return backend


def send_sms(to: str, body: str) -> str:
    """Send one SMS through the configured backend and its circuit breaker.

    Raises NotificationError for anything the backend raised and while its breaker is open."""
    backend = get_sms_backend()
    try:
        return call_with_breaker(backend.name, backend.send, to, body)
    except Exception as exc:
        raise NotificationError(f"sms via {backend.name}: {type(exc).__name__}: {exc}") from exc


def send_email(to: str, subject: str, body: str) -> None:
    """Send one e-mail through Django's configured mail backend (INTEGRATION_HTTP_TIMEOUT).

    Raises NotificationError when the backend refuses or cannot be reached."""
    try:
        connection = get_connection(timeout=settings.INTEGRATION_HTTP_TIMEOUT)
        send_mail(subject, body, None, [to], connection=connection)
    except Exception as exc:
        raise NotificationError(f"email: {type(exc).__name__}: {exc}") from exc


# ------------------------------------------------------------------------- booking messages


@dataclass(frozen=True)
class BookingConfirmation:
    confirmation_number: str
    service_name: str
    branch_name: str
    staff_name: str
    start: dt.datetime  # aware, in the branch's zone
    customer_name: str
    customer_phone: str
    customer_email: str


def _when(start: dt.datetime) -> str:
    return f"{_WEEKDAYS_DE[start.weekday()]} {start:%d.%m.%Y} um {start:%H:%M} Uhr"


def confirmation_sms_text(confirmation: BookingConfirmation) -> str:
    """The German confirmation SMS, short enough for two segments."""
    return (
        f"Termin bestätigt: {confirmation.service_name} am {_when(confirmation.start)} "
        f"bei {confirmation.branch_name}. "
        f"Bestätigungs-Nr: {confirmation.confirmation_number}"
    )


def confirmation_email(confirmation: BookingConfirmation) -> tuple[str, str]:
    """Subject and body of the German confirmation e-mail."""
    greeting = f"Hallo {confirmation.customer_name}," if confirmation.customer_name else "Hallo,"
    subject = f"Terminbestätigung {confirmation.confirmation_number}"
    body = (
        f"{greeting}\n\n"
        f"Ihr Termin ist bestätigt:\n\n"
        f"{confirmation.service_name}\n"
        f"{_when(confirmation.start)}\n"
        f"bei {confirmation.staff_name}, {confirmation.branch_name}\n\n"
        f"Bestätigungs-Nr: {confirmation.confirmation_number}\n\n"
        f"Bitte nennen Sie diese Nummer, wenn Sie den Termin ändern oder absagen möchten.\n"
    )
    return subject, body


@dataclass(frozen=True)
class Failure:
    channel: str
    error: str
    fallback: str | None  # the channel tried instead, if any


@dataclass(frozen=True)
class DeliveryReport:
    sent: list[str] = field(default_factory=list)  # channels that succeeded, in order
    failed: list[Failure] = field(default_factory=list)


def deliver_booking_confirmation(confirmation: BookingConfirmation) -> DeliveryReport:
    """Confirm a booking to the customer. The primary channel is e-mail when the customer gave
    an address, SMS otherwise; a failed e-mail falls back to SMS. Raises nothing: failures are
    in the report for the caller to record."""
    sent: list[str] = []
    failed: list[Failure] = []
    if confirmation.customer_email:
        subject, body = confirmation_email(confirmation)
        try:
            send_email(confirmation.customer_email, subject, body)
            sent.append(EMAIL)
        except NotificationError as exc:
            logger.warning("booking confirmation e-mail failed, falling back to SMS: %s", exc)
            failed.append(Failure(EMAIL, str(exc), fallback=SMS))
    if not sent and confirmation.customer_phone:
        try:
            send_sms(confirmation.customer_phone, confirmation_sms_text(confirmation))
            sent.append(SMS)
        except NotificationError as exc:
            logger.warning("booking confirmation SMS failed: %s", exc)
            failed.append(Failure(SMS, str(exc), fallback=None))
    return DeliveryReport(sent=sent, failed=failed)


# ------------------------------------------------------------------- outbox notifications


def deliver_booking_notification(
    *, tenant: Company, appointment_id: int, kind: str
) -> DeliveryReport:
    """Tell the customer about an appointment of `tenant` (the outbox's "notification.booking"
    messages): kind "confirmation" (`deliver_booking_confirmation`), "cancellation" or
    "reschedule" (short German texts; e-mail when given, else SMS; SMS when the e-mail fails).
    An appointment gone or a customer erased gets nothing (an empty report). Raises ValueError
    for an unknown kind; channel failures are in the report."""
    from zoneinfo import ZoneInfo

    from bookings.models import Appointment  # integrations build on the domain apps

    if kind not in ("confirmation", "cancellation", "reschedule"):
        raise ValueError(f"unknown booking notification kind {kind!r}")
    row = (
        Appointment.objects.for_tenant(tenant)
        .filter(pk=appointment_id)
        .values(
            "confirmation_number",
            "start_time",
            "service__name",
            "branch__name",
            "branch__time_zone",
            "staff__name",
            "customer__name",
            "customer__phone",
            "customer__email",
            "customer__erased_at",
        )
        .first()
    )
    if row is None or row["customer__erased_at"] is not None:
        return DeliveryReport()
    booking = BookingConfirmation(
        confirmation_number=row["confirmation_number"],
        service_name=row["service__name"],
        branch_name=row["branch__name"],
        staff_name=row["staff__name"],
        start=row["start_time"].astimezone(ZoneInfo(row["branch__time_zone"])),
        customer_name=row["customer__name"],
        customer_phone=row["customer__phone"],
        customer_email=row["customer__email"],
    )
    if kind == "confirmation":
        return deliver_booking_confirmation(booking)
    greeting = f"Hallo {booking.customer_name}," if booking.customer_name else "Hallo,"
    when, number = _when(booking.start), booking.confirmation_number
    if kind == "cancellation":
        sms = (
            f"Termin abgesagt: {booking.service_name} am {when} bei {booking.branch_name}. "
            f"Bestätigungs-Nr: {number}"
        )
        subject = f"Terminabsage {number}"
        body = (
            f"{greeting}\n\nIhr Termin {booking.service_name} am {when} bei "
            f"{booking.branch_name} wurde abgesagt.\n\nBestätigungs-Nr: {number}\n"
        )
    else:
        sms = (
            f"Termin verschoben: {booking.service_name} jetzt am {when} bei "
            f"{booking.branch_name}. Bestätigungs-Nr: {number}"
        )
        subject = f"Terminänderung {number}"
        body = (
            f"{greeting}\n\nIhr Termin wurde verschoben:\n\n{booking.service_name}\n{when}\n"
            f"bei {booking.staff_name}, {booking.branch_name}\n\nBestätigungs-Nr: {number}\n"
        )
    sent: list[str] = []
    failed: list[Failure] = []
    if booking.customer_email:
        try:
            send_email(booking.customer_email, subject, body)
            sent.append(EMAIL)
        except NotificationError as exc:
            logger.warning("booking %s e-mail failed, falling back to SMS: %s", kind, exc)
            failed.append(Failure(EMAIL, str(exc), fallback=SMS))
    if not sent and booking.customer_phone:
        try:
            send_sms(booking.customer_phone, sms)
            sent.append(SMS)
        except NotificationError as exc:
            logger.warning("booking %s SMS failed: %s", kind, exc)
            failed.append(Failure(SMS, str(exc), fallback=None))
    return DeliveryReport(sent=sent, failed=failed)
