"""Sending an SMS to one of the tenant's customers on request (integration.sendSMSNotification).

The recipient must be a customer of the caller's tenant (by id, by phone, or the customer of
the given appointment), so the operation cannot be used as an SMS gateway to arbitrary numbers.
The text is the caller's own (`custom`) or the tenant's template of a kind about an appointment.
Every attempt is recorded as an `SmsMessage`, also a failed one.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from bookings.enums import SmsKind, SmsStatus
from bookings.models import Customer, SmsMessage
from bookings.notifications import sms
from bookings.notifications.texts import (
    MAX_SMS_LENGTH,
    booking_confirmation_of,
    render_booking_message,
)
from bookings.selectors import booking_get
from common.errors import (
    Conflict,
    IntegrationError,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from common.phone import InvalidPhoneNumber, normalize_phone
from mcp_core.audit import audit_record
from tenants import policy
from tenants.models import Company

_AUDIT_ACTION: dict[str, str] = {
    SmsStatus.FAILED: "sms.failed",
    SmsStatus.NOT_CONFIGURED: "sms.not_configured",
    SmsStatus.CLAIMED: "sms.failed",
}


def _customer(tenant: Company, *, customer_id: int | None, phone: str | None) -> Customer:
    customers = Customer.objects.for_tenant(tenant)
    if customer_id is not None:
        customer = customers.filter(pk=customer_id).first()
        if customer is None:
            raise NotFound("Customer not found.", details={"customer_id": customer_id})
        return customer
    try:
        normalized = normalize_phone(phone or "")
    except InvalidPhoneNumber as exc:
        raise ValidationFailed(str(exc), details={"phone": [str(exc)]}) from exc
    customer = customers.filter(phone=normalized).first()
    if customer is None:
        raise NotFound(
            "No customer of this tenant has that phone number.", details={"phone": normalized}
        )
    return customer


def sms_notification_send(
    *,
    tenant: Company,
    actor: str,
    kind: str,
    appointment_id: int | None = None,
    customer_id: int | None = None,
    phone: str | None = None,
    message: str | None = None,
) -> SmsMessage:
    """Send one SMS to a customer of `tenant` and return its record.

    `kind` "custom" sends `message`; the other kinds render the tenant's template about
    `appointment_id`. The recipient is `customer_id`, else `phone`, else the appointment's
    customer. Returns the record with status `not_configured` when no SMS provider is set up.
    Raises PlanFeatureMissing (PERMISSION_DENIED, the plan lacks `sms_notifications`) before
    anything is read or written, ValidationFailed, NotFound (also for another tenant's ids),
    Conflict (a reminder for an appointment already reminded, by beat or by hand),
    ServiceUnavailable (breaker open, provider down or timed out) and IntegrationError
    (provider refused); a failure is recorded before it is raised. Writes an `sms.sent` audit
    row."""
    policy.feature_require(tenant, "sms_notifications")
    appointment = (
        booking_get(tenant=tenant, appointment_id=appointment_id)
        if appointment_id is not None
        else None
    )
    if kind != SmsKind.CUSTOM and appointment is None:
        raise ValidationFailed(
            f"An SMS of kind {kind!r} is about an appointment: give appointment_id.",
            details={"appointment_id": ["Required for this kind."]},
        )
    if customer_id is not None or phone:
        customer = _customer(tenant, customer_id=customer_id, phone=phone)
    elif appointment is not None:
        customer = appointment.customer
    else:
        raise ValidationFailed(
            "Say who gets the SMS: customer_id, phone or appointment_id.",
            details={"customer_id": ["Give customer_id, phone or appointment_id."]},
        )
    if customer.erased_at is not None or not customer.phone:
        raise ValidationFailed(
            "This customer's personal data was erased; no SMS can be sent.",
            details={"customer_id": ["Erased."]},
        )
    if kind == SmsKind.CUSTOM:
        body = (message or "").strip()
        if not body or len(body) > MAX_SMS_LENGTH:
            raise ValidationFailed(
                f"A custom SMS needs a message of 1 to {MAX_SMS_LENGTH} characters.",
                details={"message": ["Required for kind 'custom'."]},
            )
    elif appointment is not None:
        context = booking_confirmation_of(appointment, customer)
        body = render_booking_message(tenant, kind, context)

    try:
        with transaction.atomic():
            record = SmsMessage.objects.create(
                tenant=tenant,
                appointment=appointment,
                kind=kind,
                to=customer.phone,
                body=body,
                provider=sms.get_sms_backend().name,
            )
    except IntegrityError as exc:
        # Only the once-only reminder can collide: the appointment was reminded already.
        raise Conflict(
            "This appointment has been reminded already.",
            details={"appointment_id": appointment_id, "kind": kind},
        ) from exc
    try:
        sms.sms_deliver_recorded(record)
    except sms.SmsNotConfigured:
        pass
    except sms.NotificationError as exc:
        details = {"sms_id": record.pk, "integration": record.provider, "error_code": exc.code}
        if getattr(exc, "client_error", False):
            raise IntegrationError(f"The SMS was refused: {exc}", details=details) from exc
        text = str(exc).lower()
        if "timeout" in text or "timed out" in text:
            raise ServiceUnavailable(f"{record.provider}: timeout", details=details) from exc
        raise ServiceUnavailable(
            f"{record.provider} is temporarily unavailable", details=details
        ) from exc
    finally:
        audit_record(
            tenant=tenant,
            actor=actor,
            action=_AUDIT_ACTION.get(record.status, "sms.sent"),
            obj=record,
            changes={"kind": kind, "customer_id": customer.pk, "status": record.status},
        )
    return record
