"""The SMS port of the bookings app: sending through a pluggable backend, and the record of every
SMS sent for a tenant (`SmsMessage`).

The backend is configured like Django's EMAIL_BACKEND: `settings.SMS_BACKEND` is a short name of
`settings.SMS_BACKENDS` (the environment's `console`, `twilio`) or itself a dotted path to a
class with the `SmsBackend` shape, imported with `import_string`. `console` (the default, here)
logs the text and keeps it in the in-memory outbox `sent_messages` (the last OUTBOX_LIMIT
messages), which tests read; `twilio` sends through Twilio (`integrations.twilio.backend`).

Sending never raises anything but `NotificationError`; what to do about a failure (record it,
fall back to another channel) is the caller's decision, see `bookings.notifications.delivery`.
An SMS sent for a tenant is recorded as an `SmsMessage` (provider id, delivery status, error
code), also when it fails; the provider's later delivery reports move its status forward
(`sms_status_apply`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db.models import Q
from django.utils.module_loading import import_string

from bookings.enums import SmsKind, SmsStatus
from bookings.models import SmsMessage
from bookings.queries import sms_message_insert, sms_message_update
from common.errors import ServiceUnavailable
from mcp_core.breakers import call_with_breaker
from tenants.models import Company

logger = logging.getLogger("askproai.notifications")

SMS = "sms"
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


_instances: dict[str, SmsBackend] = {}


def get_sms_backend() -> SmsBackend:
    """The configured SMS backend, one instance per name and process.

    Raises ImportError for a name that is neither a key of SMS_BACKENDS nor importable."""
    name = settings.SMS_BACKEND or "console"
    backend = _instances.get(name)
    if backend is None:
        backend_class = import_string(settings.SMS_BACKENDS.get(name, name))
        backend = _instances.setdefault(name, backend_class())
    return backend


def send_sms(
    to: str,
    body: str,
    *,
    tenant: Company | None = None,
    kind: str = SmsKind.CUSTOM,
    appointment_id: int | None = None,
    take_over: bool = False,
) -> str:
    """Send one SMS through the configured backend and its circuit breaker; returns the
    provider's message id. With `tenant` the attempt is recorded as an `SmsMessage` of `kind`;
    `take_over` (a retried delivery): a confirmation a dead attempt left `claimed` is sent on
    that record rather than a new one.

    Raises NotificationError (recorded first) for anything the backend raised, while its
    breaker is open, and SmsNotConfigured when the backend lacks its credentials."""
    if tenant is None:
        return _hand_over(get_sms_backend(), to, body)
    fields = {"appointment_id": appointment_id, "kind": kind, "to": to, "body": body}
    message = SmsMessage(tenant=tenant, provider=get_sms_backend().name, **fields)
    abandoned = _abandoned_confirmation(tenant, kind, appointment_id) if take_over else None
    if abandoned is not None:
        # Taken over: the row stands for this one confirmation, not a second one.
        message.pk = abandoned
        sms_message_update(abandoned, provider=message.provider, to=to, body=body)
    else:
        message.pk = sms_message_insert(tenant_id=tenant.pk, provider=message.provider, **fields)
    return str(sms_deliver_recorded(message).provider_sid)


def _abandoned_confirmation(tenant: Company, kind: str, appointment_id: int | None) -> int | None:
    """The appointment's confirmation SMS a dead worker left `claimed` (recorded, never handed
    over: no provider id), or None. An appointment has one confirmation, delivered through one
    outbox message whose lease lets one attempt run at a time: a claimed row seen by the next
    attempt belongs to an attempt that died."""
    if kind != SmsKind.CONFIRMATION or appointment_id is None:
        return None
    return (
        SmsMessage.objects.for_tenant(tenant)
        .filter(
            appointment_id=appointment_id,
            kind=SmsKind.CONFIRMATION,
            status=SmsStatus.CLAIMED,
            provider_sid=None,
        )
        .values_list("pk", flat=True)
        .first()
    )


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
    sms_message_update(message.pk, **{name: getattr(message, name) for name in names})


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


def sms_records_erase(*, tenant: Company, customer_id: int, phone: str) -> int:
    """GDPR erasure: empty the number, the text and the provider's error text (which may quote
    the number) of every SMS recorded for the customer (by appointment or number); delivery
    status, error code and counts stay. Returns how many rows changed."""
    return (
        SmsMessage.objects.for_tenant(tenant)
        .filter(Q(appointment__customer_id=customer_id) | Q(to=phone))
        .exclude(to="", body="", error_message="")
        .update(to="", body="", error_message="")
    )


# ------------------------------------------------------------------------ delivery reports

# How far along a message is; a report never moves it to a lower rank. Final states share the
# top rank but one (delivered and undelivered are both final), `read` follows delivered.
STATUS_RANK: dict[str, int] = {
    SmsStatus.CLAIMED: 0,
    SmsStatus.NOT_CONFIGURED: 0,
    SmsStatus.ACCEPTED: 1,
    SmsStatus.SCHEDULED: 1,
    SmsStatus.QUEUED: 2,
    SmsStatus.SENDING: 3,
    SmsStatus.SENT: 4,
    SmsStatus.DELIVERED: 5,
    SmsStatus.UNDELIVERED: 5,
    SmsStatus.FAILED: 5,
    SmsStatus.CANCELED: 5,
    SmsStatus.READ: 6,
}
# The statuses a provider reports; `claimed` and `not_configured` are only ever ours.
REPORTED_STATUSES = frozenset(STATUS_RANK) - {SmsStatus.CLAIMED, SmsStatus.NOT_CONFIGURED}


def sms_message_for_report(*, provider: str, provider_sid: str) -> SmsMessage | None:
    """The message a provider's delivery report is about, locked for `sms_status_apply` (call
    it inside the transaction that applies the report), with its tenant; None if unknown."""
    return (
        # all_tenants: a delivery report names only the provider's id; the row has the tenant.
        SmsMessage.objects.all_tenants()
        .select_for_update()
        .filter(provider=provider, provider_sid=provider_sid)
        .select_related("tenant")
        .first()
    )


def sms_status_apply(
    *, message: SmsMessage, status: str, error_code: str, error_message: str = ""
) -> bool:
    """Move `message` to `status` unless it is already as far or further; True if changed.

    Providers send reports out of order (sent after delivered), so a status only moves
    forward (`STATUS_RANK`)."""
    if STATUS_RANK[status] <= STATUS_RANK.get(message.status, 0):
        return False
    message.status = status
    message.error_code = error_code[:20]
    if error_message:
        message.error_message = error_message[:500]
    message.save(update_fields=["status", "error_code", "error_message", "updated_at"])
    return True
