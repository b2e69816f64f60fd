"""The call log: one CallLog per Retell call, merged from whatever Retell tells us, in any order.

Retell's webhooks may arrive late, twice or out of order (call_ended after call_analyzed, a
custom function before call_started). Each write here therefore only adds what it knows and
never takes back what a later stage already recorded: the status only moves forward
(registered → ongoing → ended), the analysis and a linked appointment are never cleared, the
outcome is decided once (a booking always wins over "no booking").
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import Appointment, Customer
from common.phone import InvalidPhoneNumber, normalize_phone
from mcp_core.events import emit
from routing.enums import CallOutcome, CallStatus
from routing.models import CallLog
from routing.queue_events import emit_queue_positions
from tenants.models import Branch, Company

# Ended and error are both final: whichever came first stays.
_STATUS_RANK = {
    CallStatus.REGISTERED: 0,
    CallStatus.ONGOING: 1,
    CallStatus.ENDED: 2,
    CallStatus.ERROR: 2,
}
_RETELL_STATUS = {
    "registered": CallStatus.REGISTERED,
    "ongoing": CallStatus.ONGOING,
    "ended": CallStatus.ENDED,
    "not_connected": CallStatus.ERROR,
    "error": CallStatus.ERROR,
}
# The status each webhook event implies when the payload's call_status says less.
_EVENT_STATUS = {
    "call_started": CallStatus.ONGOING,
    "call_ended": CallStatus.ENDED,
    "call_analyzed": CallStatus.ENDED,
}
# Retell's webhook events and the domain events they are.
_CALL_EVENTS = {
    "call_started": "call.started",
    "call_ended": "call.ended",
    "call_analyzed": "call.analyzed",
}
_FINAL_OUTCOMES = {CallOutcome.BOOKED, CallOutcome.RESCHEDULED, CallOutcome.CANCELLED}


def _instant(ms: Any) -> dt.datetime | None:
    if isinstance(ms, bool) or not isinstance(ms, int | float) or ms <= 0:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _locked_log(tenant: Company, call_id: str, branch: Branch | None) -> CallLog:
    """The call's row, locked for this transaction; created when it is the first news of it."""
    log = CallLog.objects.for_tenant(tenant).select_for_update().filter(call_id=call_id).first()
    if log is not None:
        return log
    try:
        with transaction.atomic():
            return CallLog.objects.create(tenant=tenant, call_id=call_id, branch=branch)
    except IntegrityError:
        # Created meanwhile by a concurrent delivery (or it is another tenant's call id, which
        # `for_tenant` below refuses to hand out).
        return CallLog.objects.for_tenant(tenant).select_for_update().get(call_id=call_id)


def _outcome_after_end(log: CallLog, disconnection_reason: str) -> str:
    if log.appointment_id is not None:
        return CallOutcome.BOOKED
    if disconnection_reason == "call_transfer":
        return CallOutcome.TRANSFERRED
    if disconnection_reason.startswith(("dial_", "error")):
        return CallOutcome.FAILED
    return CallOutcome.NO_BOOKING


def call_log_record(
    *, tenant: Company, branch: Branch | None, event: str, call: dict[str, Any]
) -> CallLog:
    """Merge one Retell event's call object into the call's log row (created when new).

    Call inside a transaction. Raises CallLog.DoesNotExist when the call_id belongs to another
    tenant."""
    call_id = str(call["call_id"])
    log = _locked_log(tenant, call_id, branch)
    if log.branch_id is None and branch is not None:
        log.branch = branch
    log.agent_id = _text(call.get("agent_id"), 100) or log.agent_id
    log.from_number = _text(call.get("from_number"), 20) or log.from_number
    log.to_number = _text(call.get("to_number"), 20) or log.to_number
    log.direction = _text(call.get("direction"), 10) or log.direction

    status = _RETELL_STATUS.get(str(call.get("call_status")), _EVENT_STATUS.get(event))
    if status is not None and _STATUS_RANK[status] > _STATUS_RANK[CallStatus(log.status)]:
        log.status = status

    log.started_at = log.started_at or _instant(call.get("start_timestamp"))
    log.ended_at = log.ended_at or _instant(call.get("end_timestamp"))
    duration = call.get("duration_ms")
    if isinstance(duration, int) and duration >= 0 and log.duration_seconds is None:
        log.duration_seconds = round(duration / 1000)
    elif log.duration_seconds is None and log.started_at and log.ended_at:
        log.duration_seconds = max(0, round((log.ended_at - log.started_at).total_seconds()))
    transcript = _text(call.get("transcript"), 200_000)
    if len(transcript) > len(log.transcript):
        log.transcript = transcript
    reason = _text(call.get("disconnection_reason"), 100)
    log.disconnection_reason = reason or log.disconnection_reason
    analysis = call.get("call_analysis")
    if isinstance(analysis, dict) and analysis:
        log.analysis = analysis
    variables = call.get("retell_llm_dynamic_variables")
    if isinstance(variables, dict) and not log.language:
        log.language = _text(variables.get("language"), 8)

    if log.customer_id is None and log.from_number:
        log.customer = _customer(tenant, log.from_number)
    if event in ("call_ended", "call_analyzed") and log.outcome == CallOutcome.UNKNOWN:
        log.outcome = _outcome_after_end(log, log.disconnection_reason)
    log.save()
    if event in _CALL_EVENTS:
        _emit_call_event(tenant, _CALL_EVENTS[event], log)
    if event in ("call_started", "call_ended") and log.branch is not None:
        emit_queue_positions(tenant, log.branch, timezone.now())
    return log


def _emit_call_event(tenant: Company, name: str, log: CallLog) -> None:
    # No numbers, transcript or analysis: a subscriber reads those through the API.
    emit(
        tenant=tenant,
        event=name,
        data={
            "call_id": log.call_id,
            "status": log.status,
            "direction": log.direction,
            "branch_id": log.branch_id,
            "customer_id": log.customer_id,
            "started_at": log.started_at.isoformat() if log.started_at else None,
            "ended_at": log.ended_at.isoformat() if log.ended_at else None,
            "duration_seconds": log.duration_seconds,
            "outcome": log.outcome,
            "appointment_id": log.appointment_id,
        },
        branch_id=log.branch_id,
        customer_id=log.customer_id,
        call_id=log.call_id,
    )


def _customer(tenant: Company, number: str) -> Customer | None:
    try:
        phone = normalize_phone(number)
    except InvalidPhoneNumber:
        return None
    return Customer.objects.for_tenant(tenant).filter(phone=phone).first()


def call_log_link(
    *,
    tenant: Company,
    branch: Branch | None,
    call: dict[str, Any],
    appointment_id: int,
    outcome: str = CallOutcome.BOOKED,
) -> CallLog:
    """Link the call to the appointment it booked (or moved, or cancelled) and record that
    outcome; a booking in this call is not replaced by what it did to another appointment."""
    with transaction.atomic():
        log = _locked_log(tenant, str(call["call_id"]), branch)
        # Only the ids are linked: one read of the tenant's appointment gives its customer's.
        customer_id = (
            Appointment.objects.for_tenant(tenant)
            .values_list("customer_id", flat=True)
            .get(pk=appointment_id)
        )
        if log.appointment_id is None or outcome == CallOutcome.BOOKED:
            log.appointment_id = appointment_id
            log.customer_id = customer_id
        # A booking outranks what other calls' appointments did; a change to the appointment
        # this call booked (cancelled again, moved) is the call's latest outcome.
        if (
            log.outcome not in _FINAL_OUTCOMES
            or outcome == CallOutcome.BOOKED
            or log.appointment_id == appointment_id
        ):
            log.outcome = outcome
        for field in ("from_number", "to_number", "agent_id"):
            if not getattr(log, field):
                setattr(log, field, _text(call.get(field), 100 if field == "agent_id" else 20))
        log.save()
        return log


def call_log_transfer(
    *, tenant: Company, branch: Branch | None, call: dict[str, Any], number: str, reason: str
) -> CallLog:
    """Record that the agent hands the caller to `number` (why, when). The outcome becomes
    transferred unless the call already booked, moved or cancelled something."""
    with transaction.atomic():
        log = _locked_log(tenant, str(call["call_id"]), branch)
        log.transfer_number = number[:20]
        log.transfer_reason = reason[:200]
        log.transferred_at = timezone.now()
        if log.outcome not in _FINAL_OUTCOMES:
            log.outcome = CallOutcome.TRANSFERRED
        for field in ("from_number", "to_number", "agent_id"):
            if not getattr(log, field):
                setattr(log, field, _text(call.get(field), 100 if field == "agent_id" else 20))
        log.save()
        return log
