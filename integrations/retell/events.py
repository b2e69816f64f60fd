"""Retell's call webhooks (call_started, call_ended, call_analyzed), applied once each.

Each delivery is keyed `call_id:event` in WebhookEvent: a replay finds its row and changes
nothing; events arriving out of order are merged by `routing.calls.call_log_record`, which never
takes back what a later stage recorded (call_ended after call_analyzed keeps the analysis).

call_analyzed with a booking intent in `call_analysis.custom_analysis_data` (the agent's
post-call analysis: booking_intent, service, date, time, customer_name, staff) books through
booking.processPhoneBooking, unless the call already booked mid-call. The booking runs before
the delivery is recorded (a saga must not run inside a transaction) under an idempotency key
derived from the call, so a delivery retried after a crash in between books nothing twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from bookings.models import Appointment
from bookings.spoken_time import UnclearDate, UnclearTime, parse_date, parse_time
from integrations.models import WebhookEvent
from integrations.retell.lines import Line
from integrations.webhooks import first_delivery
from mcp_core.auth import Principal
from mcp_core.observability import logger
from mcp_core.orchestrator import execute_named
from mcp_core.permissions import Role
from routing.calls import call_log_link, call_log_record
from routing.enums import CallOutcome
from routing.models import CallLog

PROVIDER = "retell"
CALL_EVENTS = ("call_started", "call_ended", "call_analyzed")
_INTENT_KEYS = ("booking_intent", "wants_booking", "appointment_requested")
_TRUE = {"true", "yes", "ja", "1", "y"}


@dataclass(frozen=True)
class Applied:
    status: str  # "applied" | "duplicate"
    call_id: str
    event: str
    call_log_id: int | None
    outcome: str | None
    appointment_id: int | None
    booking: dict[str, Any] | None = None


def delivery_id(call_id: str, event: str) -> str:
    return f"{call_id}:{event}"


def already_delivered(call_id: str, event: str) -> bool:
    return WebhookEvent.objects.filter(
        provider=PROVIDER, event_id=delivery_id(call_id, event)
    ).exists()


def apply_call_event(*, line: Line, event: str, call: dict[str, Any]) -> Applied:
    """Apply one call webhook for the line's tenant, at most once per call and event.

    Raises what processPhoneBooking's orchestration cannot answer (nothing in practice: its
    errors are logged and leave the call without booking)."""
    call_id = str(call["call_id"])
    if already_delivered(call_id, event):
        return _duplicate(line, call_id, event)
    booking: dict[str, Any] | None = None
    if event == "call_analyzed":
        booking = _book_from_analysis(line, call)
    with transaction.atomic():
        if not first_delivery(
            PROVIDER,
            delivery_id(call_id, event),
            event_type=event,
            tenant=line.tenant,
            payload={"call_id": call_id, "event": event},
        ):
            return _duplicate(line, call_id, event)
        log = call_log_record(tenant=line.tenant, branch=line.branch, event=event, call=call)
    if booking is not None and booking.get("booked"):
        log = call_log_link(
            tenant=line.tenant,
            branch=line.branch,
            call=call,
            appointment_id=booking["appointment"]["id"],
            outcome=CallOutcome.BOOKED,
        )
    return Applied(
        status="applied",
        call_id=call_id,
        event=event,
        call_log_id=log.pk,
        outcome=log.outcome,
        appointment_id=log.appointment_id,
        booking=booking,
    )


def _duplicate(line: Line, call_id: str, event: str) -> Applied:
    log = CallLog.objects.for_tenant(line.tenant).filter(call_id=call_id).first()
    return Applied(
        status="duplicate",
        call_id=call_id,
        event=event,
        call_log_id=log.pk if log else None,
        outcome=log.outcome if log else None,
        appointment_id=log.appointment_id if log else None,
    )


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in _TRUE


def booking_wish(call: dict[str, Any]) -> dict[str, str] | None:
    """The booking the caller asked for, from the post-call analysis; None without intent."""
    analysis = call.get("call_analysis")
    data = analysis.get("custom_analysis_data") if isinstance(analysis, dict) else None
    if not isinstance(data, dict) or not any(_truthy(data.get(key)) for key in _INTENT_KEYS):
        return None
    wish = {
        key: str(data[key]).strip()
        for key in ("service", "date", "time", "customer_name", "staff")
        if isinstance(data.get(key), str | int | float) and str(data[key]).strip()
    }
    return wish


def _book_from_analysis(line: Line, call: dict[str, Any]) -> dict[str, Any] | None:
    wish = booking_wish(call)
    call_id = str(call["call_id"])
    if wish is None:
        return None
    if Appointment.objects.for_tenant(line.tenant).filter(call_id=call_id).exists():
        return None  # booked during the call already
    missing = [key for key in ("service", "date", "time") if key not in wish]
    if missing or not call.get("from_number"):
        logger.warning("retell.analysis_booking_incomplete", call_id=call_id, missing=missing)
        return {"booked": False, "reason": "incomplete", "missing": missing}
    # "morgen" means the day after the call, also when the analysis arrives after midnight.
    began = call.get("start_timestamp")
    when = (
        dt.datetime.fromtimestamp(began / 1000, dt.UTC)
        if isinstance(began, int) and not isinstance(began, bool) and began > 0
        else timezone.now()
    )
    today = when.astimezone(line.zone).date()
    try:
        start = dt.datetime.combine(parse_date(wish["date"], today=today), parse_time(wish["time"]))
    except (UnclearDate, UnclearTime) as exc:
        logger.warning("retell.analysis_booking_unclear", call_id=call_id, error=str(exc))
        return {"booked": False, "reason": "unclear", "detail": str(exc)}
    args: dict[str, Any] = {
        "caller_phone": call["from_number"],
        "branch_id": line.branch.pk,
        "start_time": start.isoformat(),
        "service": wish["service"][:200],
        "customer_name": wish.get("customer_name", "")[:200],
        "call_id": call_id[:100],
        "idempotency_key": f"retell:{call_id}:call_analyzed"[:255],
    }
    if "staff" in wish:
        args["staff"] = wish["staff"][:200]
    result = execute_named(
        Principal.system(line.tenant, "retell", Role.STAFF),
        "booking.processPhoneBooking",
        args,
        source="phone",
    )
    if result.error is not None:
        logger.warning(
            "retell.analysis_booking_failed",
            call_id=call_id,
            error=result.error.error_type.name,
            message=result.error.message,
        )
        return {"booked": False, "reason": result.error.error_type.name.lower()}
    return result.data
