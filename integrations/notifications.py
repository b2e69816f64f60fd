"""Customer notifications: SMS through a pluggable backend, e-mail through Django's mail.

`settings.SMS_BACKEND` names the SMS backend: a key of `SMS_BACKENDS` or a dotted path to a
class with the `SmsBackend` shape. `console` (the default) logs the text and keeps it in the
in-memory outbox `sent_messages` (the last OUTBOX_LIMIT messages), which tests read; `twilio`
sends through Twilio (`integrations.twilio_sms`).

Sending never raises anything but `NotificationError`; what to do about a failure (record it,
fall back to SMS) is the caller's decision, see `deliver_booking_confirmation`. An SMS sent for
a tenant is recorded as an `SmsMessage` (provider id, delivery status, error code), also when
it fails. The texts are the tenant's templates (`integrations.messages`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.db import connection
from django.db.models import Q
from django.utils.module_loading import import_string

from bookings.enums import SmsKind, SmsStatus
from bookings.models import SmsMessage, SmsTemplate
from common import rows
from common.errors import ServiceUnavailable
from integrations import messages
from mcp_core.breakers import call_with_breaker
from tenants.models import Company

if TYPE_CHECKING:
    from bookings.models import Appointment, Customer
    from tenants.models import Company

logger = logging.getLogger("askproai.notifications")

SMS = "sms"
EMAIL = "email"
OUTBOX_LIMIT = 1000


class NotificationError(Exception):
    """A message could not be handed to its channel.

    `code` is the provider's error code when it gave one; `not_sent` is True when the provider
    certainly never got the message (not configured, breaker open), so trying again later
    cannot send it twice."""

    def __init__(self, message: str, *, code: str = "", not_sent: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.not_sent = not_sent


class SmsNotConfigured(NotificationError):
    """The SMS backend lacks its credentials: the message is skipped, never an outage.

    `client_error` keeps it from counting against the backend's circuit breaker."""

    client_error = True

    def __init__(self, message: str) -> None:
        super().__init__(message, not_sent=True)


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
    # The delivery status a message has once the backend accepted it.
    initial_status: str

    def send(self, to: str, body: str) -> str:
        """Hand one SMS to the provider; returns the provider's message id."""
        ...


class ConsoleSms:
    """Logs every SMS instead of sending it and keeps it in `sent_messages`."""

    name = "console"
    initial_status: str = SmsStatus.SENT

    def send(self, to: str, body: str) -> str:
        logger.info("sms (console backend) to %s: %s", to, body)
        with _outbox_lock:
            sent_messages.append(SentMessage(channel=SMS, to=to, body=body))
            del sent_messages[:-OUTBOX_LIMIT]
        return f"console-{uuid.uuid4().hex[:12]}"


def _twilio() -> SmsBackend:
    from integrations.twilio_sms import TwilioSms  # the SDK is only loaded when configured

    return TwilioSms()


SMS_BACKENDS: dict[str, Callable[[], SmsBackend]] = {"console": ConsoleSms, "twilio": _twilio}
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


def send_sms(
    to: str,
    body: str,
    *,
    tenant: Company | None = None,
    kind: str = SmsKind.CUSTOM,
    appointment_id: int | None = None,
) -> str:
    """Send one SMS through the configured backend and its circuit breaker; returns the
    provider's message id. With `tenant` the attempt is recorded as an `SmsMessage` of `kind`.

    Raises NotificationError (recorded first) for anything the backend raised, while its
    breaker is open, and SmsNotConfigured when the backend lacks its credentials."""
    if tenant is None:
        return _hand_over(get_sms_backend(), to, body)
    fields = {"appointment_id": appointment_id, "kind": kind, "to": to, "body": body}
    message = SmsMessage(tenant=tenant, provider=get_sms_backend().name, **fields)
    message.pk = rows.insert(SmsMessage, tenant_id=tenant.pk, provider=message.provider, **fields)
    return str(sms_deliver_recorded(message).provider_sid)


def sms_deliver_recorded(message: SmsMessage) -> SmsMessage:
    """Hand a recorded (claimed) message to the backend and record what happened: the provider
    id and initial status, or the failure with its error code. Raises NotificationError after
    recording a failure."""
    backend = get_sms_backend()
    message.provider = backend.name
    try:
        sid = _hand_over(backend, message.to, message.body)
    except NotificationError as exc:
        if isinstance(exc, SmsNotConfigured):
            message.status = SmsStatus.NOT_CONFIGURED
        else:
            message.status = SmsStatus.FAILED
        message.error_code = exc.code[:20]
        message.error_message = str(exc)[:500]
        _record(message, "provider", "status", "error_code", "error_message")
        raise
    message.provider_sid = sid
    message.status = backend.initial_status
    _record(message, "provider", "provider_sid", "status")
    return message


def _record(message: SmsMessage, *names: str) -> None:
    rows.update(SmsMessage, {"pk": message.pk}, **{name: getattr(message, name) for name in names})


def sms_records_erase(*, tenant: Company, customer_id: int, phone: str) -> int:
    """GDPR erasure: empty the number and text of every SMS recorded for the customer (by
    appointment or number); delivery status and counts stay. Returns how many rows changed."""
    return (
        SmsMessage.objects.for_tenant(tenant)
        .filter(Q(appointment__customer_id=customer_id) | Q(to=phone))
        .exclude(to="", body="")
        .update(to="", body="")
    )


def _hand_over(backend: SmsBackend, to: str, body: str) -> str:
    try:
        return call_with_breaker(backend.name, backend.send, to, body)
    except NotificationError:
        raise
    except ServiceUnavailable as exc:
        # Raised by the open breaker before the backend was called.
        raise NotificationError(f"sms via {backend.name}: {exc}", not_sent=True) from exc
    except Exception as exc:
        code = str(getattr(exc, "code", "") or "")
        raise NotificationError(
            f"sms via {backend.name}: {type(exc).__name__}: {exc}", code=code
        ) from exc


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


def booking_confirmation_of(
    appointment: Appointment, customer: Customer | None = None
) -> BookingConfirmation:
    """What a message about `appointment` (branch, service, staff and customer loaded) says,
    addressed to `customer` (default: the appointment's own)."""
    customer = customer or appointment.customer
    return BookingConfirmation(
        confirmation_number=appointment.confirmation_number,
        service_name=appointment.service.name,
        branch_name=appointment.branch.name,
        staff_name=appointment.staff.name,
        start=appointment.start_time.astimezone(ZoneInfo(appointment.branch.time_zone)),
        customer_name=customer.name,
        customer_phone=customer.phone,
        customer_email=customer.email,
    )


def _when(start: dt.datetime) -> str:
    return messages.when_text(start)


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
    recorded. Raises nothing: failures are in the report for the caller to record."""
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
            send_sms(
                confirmation.customer_phone,
                messages.render_booking_message(
                    tenant, SmsKind.CONFIRMATION, confirmation, template=template
                ),
                tenant=tenant,
                kind=SmsKind.CONFIRMATION,
                appointment_id=appointment_id,
            )
            sent.append(SMS)
        except SmsNotConfigured:
            # Skipped, not failed: nothing to retry until an SMS provider is configured.
            logger.info("booking confirmation SMS skipped: no SMS provider configured")
        except NotificationError as exc:
            logger.warning("booking confirmation SMS failed: %s", exc)
            failed.append(Failure(SMS, str(exc), fallback=None))
    return DeliveryReport(sent=sent, failed=failed)


# ------------------------------------------------------------------- outbox notifications


def _notification_details(
    tenant: Company, appointment_id: int, kind: str
) -> tuple[BookingConfirmation, str] | None:
    """What a message about the appointment says, and the tenant's template of `kind` ("" for
    none): one statement, written out because every booking sends one (the ORM spent more
    Python building this join than the database spent on it). None for an appointment gone or
    a customer erased."""
    from bookings.models import Appointment  # integrations build on the domain apps

    with connection.cursor() as cursor:
        cursor.execute(_details_sql(), [kind, tenant.pk, appointment_id])
        row = cursor.fetchone()
    if row is None or row[9] is not None:
        return None
    number, start, service, branch, zone, staff, name, phone, email, _erased, template = row
    booking = BookingConfirmation(
        confirmation_number=number,
        service_name=service,
        branch_name=branch,
        staff_name=staff,
        start=rows.convert(Appointment, "start_time", start).astimezone(ZoneInfo(zone)),
        customer_name=name,
        customer_phone=phone,
        customer_email=email,
    )
    return booking, template or ""


@cache
def _details_sql() -> str:
    from bookings.models import Appointment, Customer
    from staff.models import Service, Staff
    from tenants.models import Branch

    table = {model: model._meta.db_table for model in (Appointment, Customer, Service, Staff)}
    return f"""
        SELECT a.confirmation_number, a.start_time, s.name, b.name, b.time_zone, st.name,
               c.name, c.phone, c.email, c.erased_at,
               (SELECT t.body FROM {SmsTemplate._meta.db_table} t
                 WHERE t.tenant_id = a.tenant_id AND t.kind = %s)
          FROM {table[Appointment]} a
          JOIN {table[Service]} s ON s.id = a.service_id
          JOIN {Branch._meta.db_table} b ON b.id = a.branch_id
          JOIN {table[Staff]} st ON st.id = a.staff_id
          JOIN {table[Customer]} c ON c.id = a.customer_id
         WHERE a.tenant_id = %s AND a.id = %s
    """  # noqa: S608 - our own table names


def deliver_booking_notification(
    *, tenant: Company, appointment_id: int, kind: str
) -> DeliveryReport:
    """Tell the customer about an appointment of `tenant` (the outbox's "notification.booking"
    messages): kind "confirmation" (`deliver_booking_confirmation`), "cancellation" or
    "reschedule" (e-mail when given, else SMS in the tenant's wording
    (`messages.render_booking_message`), recorded as an `SmsMessage`; SMS when the e-mail
    fails; no SMS provider configured: skipped).
    An appointment gone or a customer erased gets nothing (an empty report). Raises ValueError
    for an unknown kind; channel failures are in the report."""

    if kind not in ("confirmation", "cancellation", "reschedule"):
        raise ValueError(f"unknown booking notification kind {kind!r}")
    found = _notification_details(tenant, appointment_id, kind)
    if found is None:
        return DeliveryReport()
    booking, template = found
    if kind == "confirmation":
        return deliver_booking_confirmation(
            booking, tenant=tenant, appointment_id=appointment_id, template=template
        )
    sms = messages.render_booking_message(tenant, kind, booking, template=template)
    greeting = f"Hallo {booking.customer_name}," if booking.customer_name else "Hallo,"
    when, number = _when(booking.start), booking.confirmation_number
    if kind == "cancellation":
        subject = f"Terminabsage {number}"
        body = (
            f"{greeting}\n\nIhr Termin {booking.service_name} am {when} bei "
            f"{booking.branch_name} wurde abgesagt.\n\nBestätigungs-Nr: {number}\n"
        )
    else:
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
            send_sms(
                booking.customer_phone,
                sms,
                tenant=tenant,
                kind=kind,
                appointment_id=appointment_id,
            )
            sent.append(SMS)
        except SmsNotConfigured:
            logger.info("booking %s SMS skipped: no SMS provider configured", kind)
        except NotificationError as exc:
            logger.warning("booking %s SMS failed: %s", kind, exc)
            failed.append(Failure(SMS, str(exc), fallback=None))
    return DeliveryReport(sent=sent, failed=failed)
