"""Sending a failed SMS again (the console's "Probleme"), on its own record: the row leaves the
inbox once handed over, and a second click finds it taken. A text about an appointment is
rendered anew, so a moved appointment's SMS says the new time."""

from __future__ import annotations

from bookings.enums import AppointmentStatus, SmsKind, SmsStatus
from bookings.models import SmsMessage
from bookings.notifications import sms
from bookings.notifications.texts import booking_confirmation_of, render_booking_message
from common.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from mcp_core.audit import audit_record
from tenants import policy
from tenants.models import Company

RESENDABLE = (SmsStatus.FAILED, SmsStatus.UNDELIVERED)


def _text(message: SmsMessage) -> tuple[str, str]:
    """(recipient, text) for sending `message` again. Raises ValidationFailed when it must not
    go out any more (erased customer, a cancelled appointment's confirmation or reminder)."""
    appointment = message.appointment
    if message.kind == SmsKind.CUSTOM or appointment is None:
        return message.to, message.body
    if appointment.status == AppointmentStatus.CANCELLED and message.kind != SmsKind.CANCELLATION:
        raise ValidationFailed(
            "The appointment was cancelled; this SMS is not sent again.",
            details={"appointment": [f"{appointment.pk} is cancelled."]},
        )
    customer = appointment.customer
    if customer.erased_at is not None or not customer.phone:
        raise ValidationFailed(
            "This customer's personal data was erased; no SMS can be sent.",
            details={"customer": ["Erased."]},
        )
    context = booking_confirmation_of(appointment, customer)
    return customer.phone, render_booking_message(message.tenant, message.kind, context)


def sms_resend(*, tenant: Company, actor: str, sms_id: int) -> SmsMessage:
    """Hand the tenant's failed (or undelivered) SMS `sms_id` to the provider again and return
    its record, audited as `actor` (`sms.resent`, with the status before and after).

    Raises PlanFeatureMissing (the plan lacks `sms_notifications`), NotFound (also another
    tenant's id), Conflict (not failed: sent again already, by this or a concurrent click),
    ValidationFailed (erased customer, cancelled appointment) and ServiceUnavailable (the
    provider failed again; recorded on the row, which stays in the inbox)."""
    policy.feature_require(tenant, "sms_notifications")
    rows = SmsMessage.objects.for_tenant(tenant)
    message = rows.select_related("tenant", "appointment__customer").filter(pk=sms_id).first()
    if message is None:
        raise NotFound("No such SMS.", details={"sms_id": sms_id})
    if message.status not in RESENDABLE:
        raise Conflict(
            "This SMS is not failed: it was sent again already.",
            details={"sms_id": sms_id, "status": message.status},
        )
    to, body = _text(message)
    before = {"status": message.status, "error_code": message.error_code}
    # The claim is the once-only guard: of two clicks, one updates the row, the other none.
    claimed = rows.filter(pk=sms_id, status__in=RESENDABLE).update(
        status=SmsStatus.CLAIMED, to=to, body=body, error_code="", error_message=""
    )
    if not claimed:
        raise Conflict(
            "This SMS is not failed: it was sent again already.", details={"sms_id": sms_id}
        )
    message.status, message.to, message.body = SmsStatus.CLAIMED, to, body
    message.error_code = message.error_message = ""
    try:
        sms.sms_deliver_recorded(message)
    except sms.SmsNotConfigured:
        pass
    except sms.NotificationError as exc:
        raise ServiceUnavailable(
            f"{message.provider}: the SMS failed again",
            details={"sms_id": sms_id, "error_code": exc.code},
        ) from exc
    finally:
        audit_record(
            tenant=tenant,
            actor=actor,
            action="sms.resent",
            obj=message,
            changes={"before": before, "status": message.status},
        )
    return message
