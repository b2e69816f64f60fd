"""`POST /webhooks/calcom`: what happened in Cal.com, applied here once.

Verified with `X-Cal-Signature-256` (hex HMAC-SHA256 of the raw body with the secret of the
tenant the delivery names: its Cal.com account's own, or CALCOM_WEBHOOK_SECRET for a tenant on
the global Cal.com key; Cal.com's "no-secret-provided" and a missing secret are refused, 401).
The tenant comes from the payload: the booking uid (an appointment's external id or a busy
block), else the Cal.com event type mapped to a service. Each delivery is applied at most once
(`first_delivery` keyed by trigger and booking uid, in the transaction of its effect).

- Our own bookings (found by uid, or by the `askproai_confirmation` metadata we sent):
  BOOKING_CANCELLED cancels the appointment, BOOKING_RESCHEDULED moves it and takes the new
  uid; neither is echoed back to Cal.com. BOOKING_CREATED is our own create: nothing to do.
- Bookings made directly in Cal.com become time blocks of the event type's staff member (or
  the staff member with the organizer's e-mail), which the availability engine already
  honours; cancelling frees the time, rescheduling moves the block.

A move our calendar cannot take (the slot is taken here) is not applied: the appointment is
marked sync `failed`, audited as 'calendar_sync.conflict' and logged for operations.

Appointments and time blocks change only through their apps' services (`bookings.services`,
`bookings.calendar_changes`, `staff.services`, `staff.time_blocks`); the busy-block mapping
(`CalcomBusyBlock`) is this integration's own.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bookings import services as booking_services
from bookings.calendar_changes import booking_calendar_conflict, booking_calendar_moved
from bookings.enums import ACTIVE_STATUSES
from bookings.models import Appointment
from common.errors import ApplicationError, ValidationFailed
from integrations.calcom.backend import parse_time
from integrations.models import CalcomAccount, CalcomBusyBlock, CalcomEventType, WebhookProvider
from integrations.webhooks import error_response, first_delivery, json_body, signature_failed
from staff import services as staff_services
from staff.models import Staff
from staff.time_blocks import staff_time_unblock
from tenants import policy
from tenants.models import Company

logger = logging.getLogger(__name__)

ACTOR = "system:calcom"
SIGNATURE_HEADER = "X-Cal-Signature-256"
UID_MAX_LENGTH = CalcomBusyBlock._meta.get_field("booking_uid").max_length or 100
HANDLED = ("BOOKING_CREATED", "BOOKING_CANCELLED", "BOOKING_RESCHEDULED")


def signature_valid(body: bytes, signature: str, secret: str) -> bool:
    if not secret or not signature or signature == "no-secret-provided":
        return False
    signature = signature.removeprefix("sha256=")  # some senders add it; Cal.com does not
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


@dataclass(frozen=True)
class Delivery:
    """A Cal.com delivery read, and the rows it names, before anything is written."""

    data: dict[str, Any]
    trigger: str
    payload: dict[str, Any]
    uid: str
    appointment: Appointment | None
    block: CalcomBusyBlock | None
    mapping: CalcomEventType | None
    tenant_id: int | None


@csrf_exempt
@require_POST
def calcom_webhook(request: HttpRequest) -> JsonResponse:
    signature = request.headers.get(SIGNATURE_HEADER, "")
    try:
        delivery = read_delivery(json_body(request))
    except ApplicationError as exc:
        if not signature_valid(request.body, signature, settings.CALCOM_WEBHOOK_SECRET):
            return signature_failed(request, "Cal.com")
        return error_response(request, exc)
    # Verified with the secret of the tenant the delivery would change: a payload signed with
    # one tenant's secret can never reach another's rows.
    if not signature_valid(request.body, signature, webhook_secret_for(delivery.tenant_id)):
        return signature_failed(request, "Cal.com")
    try:
        result = apply_delivery(delivery)
    except ApplicationError as exc:
        return error_response(request, exc)
    return JsonResponse(result)


def webhook_secret_for(tenant_id: int | None) -> str:
    """The secret a delivery for `tenant_id` is signed with: its Cal.com account's own when the
    tenant has its own Cal.com key, else the global CALCOM_WEBHOOK_SECRET (the deliveries of the
    global Cal.com account, and those naming no tenant)."""
    if tenant_id is None:
        return settings.CALCOM_WEBHOOK_SECRET
    account = CalcomAccount.objects.for_tenant(tenant_id).first()
    if account is None or not account.api_key:
        return settings.CALCOM_WEBHOOK_SECRET
    return account.webhook_secret


def read_delivery(data: dict[str, Any]) -> Delivery:
    """Read a Cal.com delivery and find the tenant it names; writes nothing. Raises
    ValidationFailed for a malformed payload."""
    trigger = data.get("triggerEvent")
    payload = data.get("payload")
    if not isinstance(trigger, str) or not isinstance(payload, dict):
        raise ValidationFailed(
            "A Cal.com webhook needs triggerEvent and a payload object.",
            details={"triggerEvent": ["Required."], "payload": ["Required."]},
        )
    uid = payload.get("uid")
    if trigger not in HANDLED:
        return Delivery(data, trigger, payload, "", None, None, None, None)
    if not isinstance(uid, str) or not uid:
        raise ValidationFailed("The payload has no booking uid.", details={"uid": ["Required."]})
    previous = [
        str(value)
        for value in (payload.get("rescheduleUid"), payload.get("rescheduledFromUid"))
        if value
    ]
    # Longer than the columns that keep it, a uid cannot be ours and could not be stored.
    if any(len(value) > UID_MAX_LENGTH for value in (uid, *previous)):
        raise ValidationFailed(
            f"A booking uid has at most {UID_MAX_LENGTH} characters.",
            details={"uid": [f"At most {UID_MAX_LENGTH} characters."]},
        )
    appointment = _our_appointment([uid, *previous], payload)
    block = (
        None
        if appointment is not None
        # all_tenants: the delivery names Cal.com's uid; the busy block has our tenant.
        else CalcomBusyBlock.objects.all_tenants().filter(booking_uid__in=[uid, *previous]).first()
    )
    mapping = _mapping(payload)
    if appointment is not None:
        tenant_id: int | None = appointment.tenant_id
    elif block is not None:
        tenant_id = block.tenant_id
    elif mapping is not None:
        tenant_id = mapping.tenant_id
    else:
        tenant_id = None
    return Delivery(data, trigger, payload, uid, appointment, block, mapping, tenant_id)


def apply_delivery(delivery: Delivery) -> dict[str, Any]:
    """Apply one verified Cal.com delivery; says what was done ("applied", "duplicate",
    "ignored" with a reason, "conflict")."""
    trigger, uid, payload = delivery.trigger, delivery.uid, delivery.payload
    if trigger not in HANDLED:
        return {"status": "ignored", "reason": f"{trigger} is not used"}
    if delivery.tenant_id is None:
        return {"status": "ignored", "reason": "the booking belongs to no tenant here"}
    tenant = Company.objects.get(pk=delivery.tenant_id)
    if not policy.feature_allowed(tenant, "calendar_sync"):
        # A plan without the calendar sync (a lapsed subscription, say): acknowledged, so
        # Cal.com does not retry, and nothing here changes.
        logger.info("calcom.delivery_skipped tenant=%s reason=plan", tenant.pk)
        return {"status": "ignored", "reason": "the tenant's plan has no calendar sync"}
    appointment, block, mapping = delivery.appointment, delivery.block, delivery.mapping
    with transaction.atomic():
        if not first_delivery(
            WebhookProvider.CALCOM,
            f"{trigger}:{uid}",
            event_type=trigger,
            tenant=tenant,
            payload=delivery.data,
        ):
            return {"status": "duplicate"}
        if appointment is not None:
            return _apply_to_appointment(tenant, trigger, uid, payload, appointment)
        return _apply_to_busy_time(tenant, trigger, uid, payload, block, mapping)


def _our_appointment(uids: list[str], payload: dict[str, Any]) -> Appointment | None:
    # all_tenants: the delivery names Cal.com's uid; the appointment has our tenant.
    found = Appointment.objects.all_tenants().filter(external_calendar_id__in=uids).first()
    if found is not None:
        return found
    # Cal.com may announce our own create before our create call has returned its uid.
    metadata = payload.get("metadata")
    reference = metadata.get("askproai_confirmation") if isinstance(metadata, dict) else None
    mapping = _mapping(payload)
    if not reference or mapping is None:
        return None
    return (
        Appointment.objects.for_tenant(mapping.tenant_id)
        .filter(confirmation_number=str(reference))
        .first()
    )


def _mapping(payload: dict[str, Any]) -> CalcomEventType | None:
    event_type_id = payload.get("eventTypeId")
    if not isinstance(event_type_id, int) or isinstance(event_type_id, bool):
        return None
    # all_tenants: Cal.com's event type id is how the delivery finds its tenant.
    return CalcomEventType.objects.all_tenants().filter(event_type_id=event_type_id).first()


def _apply_to_appointment(
    tenant: Company,
    trigger: str,
    uid: str,
    payload: dict[str, Any],
    appointment: Appointment,
) -> dict[str, Any]:
    if trigger == "BOOKING_CREATED":
        return {"status": "ignored", "reason": "our own booking", "appointment_id": appointment.pk}
    if appointment.status not in ACTIVE_STATUSES:
        return {"status": "ignored", "reason": f"the appointment is {appointment.status}"}
    if trigger == "BOOKING_CANCELLED":
        reason = str(payload.get("cancellationReason") or "In Cal.com abgesagt")
        booking_services.booking_cancel(
            tenant=tenant,
            actor=ACTOR,
            appointment_id=appointment.pk,
            reason=reason,
            sync_calendar=False,
        )
        return {"status": "applied", "appointment_id": appointment.pk, "action": "cancelled"}
    start = parse_time(payload.get("startTime"))
    if start is None:
        raise ValidationFailed("startTime is missing or not ISO 8601.")
    try:
        booking_calendar_moved(
            tenant=tenant,
            actor=ACTOR,
            appointment_id=appointment.pk,
            start_time=start,
            external_id=uid,
        )
    except ApplicationError as exc:
        # Cal.com moved it where our calendar cannot: keep ours, flag it for an operator.
        booking_calendar_conflict(
            tenant=tenant,
            actor=ACTOR,
            appointment_id=appointment.pk,
            start_time=start,
            error=exc.message,
            reference={"calcom_uid": uid},
        )
        logger.error(
            "Cal.com moved appointment %s (tenant %s) to %s, which cannot be booked here: %s",
            appointment.pk,
            tenant.pk,
            start.isoformat(),
            exc.message,
        )
        return {"status": "conflict", "appointment_id": appointment.pk, "reason": exc.message}
    return {"status": "applied", "appointment_id": appointment.pk, "action": "rescheduled"}


def _apply_to_busy_time(
    tenant: Company,
    trigger: str,
    uid: str,
    payload: dict[str, Any],
    block: CalcomBusyBlock | None,
    mapping: CalcomEventType | None,
) -> dict[str, Any]:
    if block is not None:
        blocked_staff_id = block.time_block.staff_id
        staff_time_unblock(
            tenant=tenant,
            actor=ACTOR,
            time_block_id=block.time_block_id,
            reference={"calcom_uid": block.booking_uid},
        )  # cascades to the busy block
        if trigger == "BOOKING_CANCELLED":
            return {"status": "applied", "action": "unblocked"}
        return _block(tenant, uid, payload, blocked_staff_id, action="moved")
    if trigger != "BOOKING_CREATED":
        return {"status": "ignored", "reason": "no block for this booking"}
    staff_id = _staff_for(tenant, payload, mapping)
    if staff_id is None:
        return {"status": "ignored", "reason": "no staff member mapped to the event type"}
    return _block(tenant, uid, payload, staff_id, action="blocked")


def _staff_for(
    tenant: Company, payload: dict[str, Any], mapping: CalcomEventType | None
) -> int | None:
    if mapping is not None and mapping.staff_id is not None:
        return mapping.staff_id
    organizer = payload.get("organizer")
    email = organizer.get("email") if isinstance(organizer, dict) else None
    if not email:
        return None
    return (
        Staff.objects.for_tenant(tenant)
        .filter(email__iexact=str(email), is_active=True)
        .values_list("pk", flat=True)
        .first()
    )


def _block(
    tenant: Company, uid: str, payload: dict[str, Any], staff_id: int, *, action: str
) -> dict[str, Any]:
    start, end = parse_time(payload.get("startTime")), parse_time(payload.get("endTime"))
    if start is None or end is None:
        raise ValidationFailed("startTime and endTime must be ISO 8601.")
    # The event type's slug, never the title: Cal.com's titles name the attendee, and a time
    # block outlives any customer's erasure.
    title = str(payload.get("type") or "Termin")
    result = staff_services.staff_time_block(
        tenant=tenant,
        actor=ACTOR,
        staff_id=staff_id,
        start_time=start,
        end_time=end,
        reason=f"Cal.com: {title}"[:255],
    )
    CalcomBusyBlock.objects.create(tenant=tenant, booking_uid=uid, time_block=result.time_block)
    return {"status": "applied", "action": action, "time_block_id": result.time_block.pk}
