"""Retell custom functions (docs/contract.md): what the phone agent calls mid-call.

Each function is a thin adapter onto the orchestrator: it reads the spoken arguments (German
dates and times in the branch's zone, the service by name or synonym), calls one or two
operations as `system:retell` for the tenant of the dialled number, and answers
`{"result": "<German sentence the agent reads out>", "data": {...}}`. Every failure becomes a
sentence the agent can say (with `data.error` for the LLM), never a 500 or a stack trace.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import DatabaseError
from django.utils import timezone

from bookings.confirmation import normalize_confirmation_number
from bookings.enums import AppointmentStatus
from bookings.models import Appointment
from common.errors import ApplicationError, ErrorType
from common.phone import InvalidPhoneNumber, normalize_phone
from integrations.retell import speech
from integrations.retell.dates import UnclearDate, UnclearTime, parse_date, parse_time
from integrations.retell.lines import Line, line_for
from mcp_core.auth import Principal
from mcp_core.observability import logger
from mcp_core.orchestrator import execute_named
from mcp_core.permissions import Role
from routing.calls import call_log_link
from routing.enums import CallOutcome
from staff.errors import ServiceNotFound, StaffNotFound
from staff.spoken import ServiceAmbiguous, service_match, spoken_key
from tenants.models import Branch

SOURCE = "phone"
OFFERED_SLOTS = 3


@dataclass(frozen=True)
class Answer:
    result: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"result": self.result, "data": self.data}


class Say(Exception):
    """Stop here and answer with this sentence (a refusal the caller should hear)."""

    def __init__(self, sentence: str, *, error: str, **data: Any):
        super().__init__(sentence)
        self.answer = Answer(sentence, {"error": {"type": error, **data}})


@dataclass(frozen=True)
class Call:
    """One custom-function request: the line called, the caller, the arguments."""

    line: Line
    call: dict[str, Any]
    args: dict[str, Any]
    name: str

    @property
    def call_id(self) -> str:
        value = self.call.get("call_id")
        return value if isinstance(value, str) else ""

    @property
    def today(self) -> dt.date:
        return timezone.now().astimezone(self.line.zone).date()

    def principal(self, role: str = Role.STAFF) -> Principal:
        return Principal.system(self.line.tenant, "retell", role)

    def run(self, operation: str, args: dict[str, Any], role: str = Role.STAFF) -> dict[str, Any]:
        result = execute_named(self.principal(role), operation, args, source=SOURCE)
        if result.error is not None:
            raise _spoken_error(result.error)
        return result.data or {}

    def text(self, key: str, *, required: bool = False) -> str:
        value = self.args.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise Say(_MISSING.get(key, f"Mir fehlt noch: {key}."), error="missing_argument")
            return ""
        if not isinstance(value, str | int | float):
            raise Say(f"Die Angabe '{key}' habe ich nicht verstanden.", error="invalid_argument")
        return str(value).strip()

    def caller(self) -> str:
        try:
            return normalize_phone(str(self.call.get("from_number") or ""))
        except InvalidPhoneNumber as exc:
            raise Say(
                "Ich kann Ihre Rufnummer leider nicht erkennen. Bitte rufen Sie mit "
                "eingeschalteter Rufnummernanzeige an.",
                error="caller_unknown",
            ) from exc

    def date(self) -> dt.date:
        try:
            day = parse_date(self.text("date", required=True), today=self.today)
        except UnclearDate as exc:
            raise Say(
                "Das Datum habe ich nicht verstanden. An welchem Tag möchten Sie kommen?",
                error="unclear_date",
                detail=str(exc),
            ) from exc
        if day < self.today:
            raise Say(
                f"Der {speech.day(day)} liegt in der Vergangenheit. Welcher Tag passt Ihnen?",
                error="date_in_past",
            )
        return day

    def optional_time(self) -> dt.time | None:
        return self.time() if self.text("time") else None

    def time(self) -> dt.time:
        said = self.text("time", required=True)
        try:
            return parse_time(said)
        except UnclearTime as exc:
            raise Say(
                "Die Uhrzeit habe ich nicht verstanden. Um wie viel Uhr möchten Sie kommen?",
                error="unclear_time",
                detail=str(exc),
            ) from exc

    def branch(self) -> Branch:
        """The branch the caller dialled, or one of the tenant's named by id in the args."""
        raw = self.args.get("branch_id")
        if raw in (None, ""):
            return self.line.branch
        try:
            branch_id = int(raw)
        except (TypeError, ValueError) as exc:
            raise Say("Diese Filiale kenne ich nicht.", error="branch_not_found") from exc
        branch = Branch.objects.for_tenant(self.line.tenant).filter(pk=branch_id).first()
        if branch is None or not branch.is_active:
            raise Say("Diese Filiale kenne ich nicht.", error="branch_not_found")
        return branch

    def appointment(self) -> Appointment:
        """The caller's own appointment with the confirmation number they read out."""
        number = normalize_confirmation_number(self.text("confirmation_number", required=True))
        appointment = (
            Appointment.objects.for_tenant(self.line.tenant)
            .select_related("branch", "service")
            .filter(confirmation_number=number, customer__phone=self.caller())
            .first()
        )
        if appointment is None:
            raise Say(
                "Zu dieser Bestätigungsnummer finde ich unter Ihrer Rufnummer keinen Termin. "
                "Können Sie die Nummer bitte noch einmal nennen?",
                error="appointment_not_found",
            )
        return appointment


_UNAVAILABLE = (
    "Unser Buchungssystem ist gerade nicht erreichbar. Bitte versuchen Sie es später noch einmal."
)
_MISSING = {
    "service": "Welche Leistung möchten Sie buchen?",
    "date": "An welchem Tag möchten Sie kommen?",
    "time": "Um wie viel Uhr möchten Sie kommen?",
    "confirmation_number": "Wie lautet Ihre Bestätigungsnummer?",
}


def _spoken_error(error: ApplicationError) -> Say:
    """An operation's error as something the agent can say."""
    details = error.details or {}
    if isinstance(error, ServiceAmbiguous):
        candidates = list(details.get("candidates", []))
        return Say(
            f"Meinen Sie {speech.choices(candidates)}?",
            error="service_ambiguous",
            candidates=candidates,
        )
    if isinstance(error, ServiceNotFound):
        offered = speech.choices(details.get("available", []))
        sentence = "Diese Leistung bieten wir leider nicht an."
        if offered:
            sentence += f" Wir bieten {offered} an."
        return Say(sentence, error="service_not_found", available=details.get("available", []))
    if isinstance(error, StaffNotFound):
        return Say(
            "Diese Mitarbeiterin oder diesen Mitarbeiter finde ich hier nicht. Soll ich "
            "jemand anderen für Sie eintragen?",
            error="staff_not_found",
        )
    messages = {
        ErrorType.RATE_LIMIT_EXCEEDED: "Das System ist gerade ausgelastet. Bitte versuchen Sie "
        "es in einigen Minuten noch einmal.",
        ErrorType.SERVICE_UNAVAILABLE: _UNAVAILABLE,
        ErrorType.TENANT_QUOTA_EXCEEDED: "Online-Buchungen sind gerade nicht möglich. Bitte "
        "rufen Sie während der Öffnungszeiten direkt im Salon an.",
        ErrorType.VALIDATION_FAILED: "Zu dieser Zeit kann ich leider keinen Termin eintragen.",
        ErrorType.CONFLICT: "Dieser Termin ist leider schon vergeben.",
        ErrorType.RESOURCE_NOT_FOUND: "Das habe ich leider nicht gefunden.",
    }
    sentence = messages.get(
        error.error_type,
        "Das hat leider nicht geklappt. Ich verbinde Sie gern mit einem Mitarbeiter.",
    )
    return Say(sentence, error=error.error_type.name.lower(), message=error.message)


def _service_id(request: Call, branch: Branch) -> int:
    said = request.text("service", required=True)
    try:
        return service_match(tenant=request.line.tenant, said=said, branch_id=branch.pk).pk
    except ApplicationError as exc:
        raise _spoken_error(exc) from exc


def _distinct(slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One slot per start time (the first staff member's), by start."""
    seen: dict[str, dict[str, Any]] = {}
    for item in slots:
        seen.setdefault(item["start"], item)
    return sorted(seen.values(), key=lambda item: dt.datetime.fromisoformat(item["start"]))


def _local(value: str, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(zone)


# ----------------------------------------------------------------------------- functions


def check_availability(request: Call) -> Answer:
    branch = request.branch()
    day = request.date()
    wished = request.optional_time()
    service_id = _service_id(request, branch)
    found = request.run(
        "booking.checkAvailability",
        {"service_id": service_id, "date": day.isoformat(), "branch_ids": [branch.pk]},
    )
    slots = _distinct(found["slots"])
    data: dict[str, Any] = {
        "date": day.isoformat(),
        "time": wished.strftime("%H:%M") if wished else None,
        "slots": [],
    }
    today, zone = request.today, ZoneInfo(branch.time_zone)
    if wished is not None:
        exact = [s for s in slots if _local(s["start"], zone).time() == wished]
        if exact:
            data["slots"] = exact[:1]
            return Answer(
                f"Ja, am {speech.day(day)} um {speech.clock(wished)} Uhr ist ein Termin frei.",
                data,
            )
        target = dt.datetime.combine(day, wished, zone)
        slots = sorted(
            slots,
            key=lambda s: (abs((_local(s["start"], zone) - target).total_seconds()), s["start"]),
        )
    offered = sorted(slots[:OFFERED_SLOTS], key=lambda s: s["start"])
    if not offered and found.get("next_available"):
        later = dt.datetime.fromisoformat(found["next_available"]["start"])
        following = request.run(
            "booking.getBookingSlots",
            {
                "service_id": service_id,
                "branch_id": branch.pk,
                "start_date": later.astimezone(zone).date().isoformat(),
            },
        )
        offered = [
            s
            for s in _distinct(following["slots"])
            if dt.datetime.fromisoformat(s["start"]) >= later
        ][:OFFERED_SLOTS]
    data["slots"] = offered
    listed = speech.slot_list([s["start"] for s in offered], zone, today=today)
    if not offered:
        return Answer(
            f"Am {speech.day(day)} und in den Wochen danach ist leider kein Termin mehr frei.",
            data,
        )
    if wished is not None and slots:
        return Answer(
            f"Um {speech.clock(wished)} Uhr ist leider nichts frei. Möglich wäre {listed}. "
            "Was passt Ihnen?",
            data,
        )
    if not slots:
        return Answer(
            f"Am {speech.day(day)} ist leider nichts mehr frei. Die nächsten freien Termine "
            f"sind {listed}. Passt Ihnen einer davon?",
            data,
        )
    return Answer(
        f"Am {speech.day(day)} sind zum Beispiel diese Zeiten frei: {listed}. Was passt Ihnen?",
        data,
    )


def idempotency_key(request: Call) -> str:
    """The same for a retried function call (same call, same arguments), different for a new
    request in the same call."""
    material = json.dumps(
        {"call_id": request.call_id, "name": request.name, "args": request.args},
        sort_keys=True,
        default=str,
    )
    return "retell:" + hashlib.sha256(material.encode()).hexdigest()[:48]


def book_appointment(request: Call) -> Answer:
    branch = request.branch()
    day = request.date()
    wished = request.time()
    service = request.text("service", required=True)
    args: dict[str, Any] = {
        "caller_phone": request.caller(),
        "branch_id": branch.pk,
        "start_time": dt.datetime.combine(day, wished).isoformat(),
        "service": service,
        "customer_name": request.text("customer_name")[:200],
        "call_id": request.call_id[:100],
    }
    staff = request.text("staff")
    if staff:
        args["staff"] = staff[:200]
    if request.call_id:
        args["idempotency_key"] = idempotency_key(request)
    outcome = request.run("booking.processPhoneBooking", args)
    zone, today = ZoneInfo(branch.time_zone), request.today
    if not outcome["booked"]:
        starts = [s["start"] for s in outcome["alternatives"]]
        sentence = (
            f"Am {speech.day(day)} um {speech.clock(wished)} Uhr ist leider kein Termin frei."
        )
        if starts:
            sentence += f" Ich kann Ihnen {speech.slot_list(starts, zone, today=today)} anbieten."
        return Answer(sentence, {"booked": False, **_booking_data(outcome)})
    appointment = outcome["appointment"]
    if request.call_id:
        call_log_link(
            tenant=request.line.tenant,
            branch=branch,
            call=request.call,
            appointment_id=appointment["id"],
            outcome=CallOutcome.BOOKED,
        )
    start = _local(appointment["start_time"], zone)
    sentence = (
        f"Ihr Termin ist gebucht: {outcome['service']['name']} am {speech.day(start.date())} "
        f"um {speech.clock(start)} Uhr bei {outcome['staff']['name']}. Ihre "
        f"Bestätigungsnummer ist {outcome['confirmation_number']}."
    )
    if "sms" in outcome["notifications_sent"]:
        sentence += " Sie bekommen gleich eine SMS zur Bestätigung."
    return Answer(sentence, {"booked": True, **_booking_data(outcome)})


def _booking_data(outcome: dict[str, Any]) -> dict[str, Any]:
    return {
        "appointment": outcome["appointment"],
        "confirmation_number": outcome["confirmation_number"],
        "service": outcome["service"],
        "staff": outcome["staff"],
        "alternatives": outcome["alternatives"],
    }


def cancel_appointment(request: Call) -> Answer:
    appointment = request.appointment()
    start = appointment.start_time.astimezone(ZoneInfo(appointment.branch.time_zone))
    when = f"am {speech.day(start.date())} um {speech.clock(start)} Uhr"
    if appointment.status == AppointmentStatus.CANCELLED:
        # A retried call, or the caller cancelling twice: the result they want is there.
        return Answer(
            f"Ihr Termin {when} ist bereits storniert.",
            {"cancelled": True, "confirmation_number": appointment.confirmation_number},
        )
    done = request.run(
        "booking.cancelBooking",
        {"appointment_id": appointment.pk, "reason": "Telefonisch vom Kunden abgesagt"},
    )
    _link(request, appointment.pk, CallOutcome.CANCELLED)
    return Answer(
        f"Ihr Termin {when} ist storniert.",
        {"cancelled": True, "appointment": done["appointment"]},
    )


def reschedule_appointment(request: Call) -> Answer:
    appointment = request.appointment()
    day = request.date()
    wished = request.time()
    if appointment.status not in (AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING):
        raise Say(
            "Dieser Termin ist nicht mehr aktiv und kann nicht verschoben werden.",
            error="not_active",
        )
    target = dt.datetime.combine(day, wished)
    zone, today = ZoneInfo(appointment.branch.time_zone), request.today
    # Moving one's own appointment, proven by the caller's number and its confirmation
    # number: the orchestrator's rescheduleBooking asks for the manager's permission, which
    # covers moving other people's bookings; this principal may only reach this one.
    result = execute_named(
        request.principal(Role.MANAGER),
        "booking.rescheduleBooking",
        {"appointment_id": appointment.pk, "start_time": target.isoformat()},
        source=SOURCE,
    )
    if result.error is not None:
        if result.error.error_type in (ErrorType.CONFLICT, ErrorType.VALIDATION_FAILED):
            starts = [s["start"] for s in result.error.details.get("next_available", [])]
            sentence = f"Am {speech.day(day)} um {speech.clock(wished)} Uhr geht es leider nicht."
            if starts:
                sentence += f" Möglich wäre {speech.slot_list(starts, zone, today=today)}."
            return Answer(
                sentence,
                {
                    "rescheduled": False,
                    "alternatives": result.error.details.get("next_available", []),
                },
            )
        raise _spoken_error(result.error)
    moved = (result.data or {})["appointment"]
    _link(request, appointment.pk, CallOutcome.RESCHEDULED)
    start = _local(moved["start_time"], zone)
    return Answer(
        f"Ihr Termin ist verschoben auf {speech.day(start.date())} um {speech.clock(start)} "
        f"Uhr. Die Bestätigungsnummer bleibt {moved['confirmation_number']}.",
        {"rescheduled": True, "appointment": moved},
    )


def _link(request: Call, appointment_id: int, outcome: str) -> None:
    if request.call_id:
        call_log_link(
            tenant=request.line.tenant,
            branch=request.line.branch,
            call=request.call,
            appointment_id=appointment_id,
            outcome=outcome,
        )


def route_call(request: Call) -> Answer:
    routed = request.run("routing.routeIncomingCall", {"phone_number": request.line.number.number})
    branch = routed.get("branch")
    decision = routed["routing_decision"]
    data = {
        "routing_decision": decision,
        "branch": branch,
        "agent_id": routed["agent"]["agent_id"],
        "estimated_wait_time": routed["estimated_wait_time"],
        "transfer_number": branch["phone"] if branch else None,
        "fallback_number": routed["routing_metadata"].get("fallback_number"),
    }
    if branch is None:
        return Answer(
            "Gerade ist leider keine Filiale erreichbar. Ich kann aber gern einen Termin für "
            "Sie eintragen.",
            data,
        )
    hours = branch.get("opening_hours_today") or ""
    if decision == "branch_specific":
        sentence = f"Sie sind richtig bei {branch['name']}."
    else:
        sentence = f"Ich verbinde Sie mit unserer Filiale {branch['name']}, {branch['address']}."
    if hours:
        sentence += f" Öffnungszeiten heute: {hours}."
    return Answer(sentence, data)


def find_nearest_branch(request: Call) -> Answer:
    lat, lng = request.args.get("lat"), request.args.get("lng")
    address = request.text("address")
    if isinstance(lat, int | float | str) and isinstance(lng, int | float | str):
        try:
            location = {"lat": float(lat), "lng": float(lng)}
        except ValueError as exc:
            raise Say("Den Standort habe ich nicht verstanden.", error="invalid_location") from exc
    elif address:
        location = _place_of(request, address)
    else:
        raise Say(
            "Wo sind Sie gerade? Nennen Sie mir bitte Ihre Postleitzahl oder Ihren Ort.",
            error="missing_argument",
        )
    found = request.run("routing.findNearestBranch", {"location": location})
    branches = found["branches"]
    data = {"location": location, "branches": branches}
    if not branches:
        return Answer("In Ihrer Nähe haben wir leider keine Filiale.", data)
    best = branches[0]
    sentence = (
        f"Am nächsten ist unsere Filiale {best['name']}, {best['address']}, "
        f"{_km(best['distance_km'])} entfernt."
    )
    sentence += (
        " Sie ist gerade geöffnet." if best["available_now"] else " Sie ist gerade geschlossen."
    )
    return Answer(sentence, data)


def _km(distance: float) -> str:
    if distance < 1:
        return "weniger als einen Kilometer"
    rounded = round(distance)
    return "etwa einen Kilometer" if rounded == 1 else f"etwa {rounded} Kilometer"


def _place_of(request: Call, address: str) -> dict[str, float]:
    """Coordinates for an address, without a geocoding service: the tenant's branch in the
    town or postal area the caller named (a postal code matches the branch sharing most of its
    leading digits, as German postal areas are nested by digit)."""
    said = spoken_key(address)
    branches = [
        b
        for b in Branch.objects.for_tenant(request.line.tenant).filter(is_active=True)
        if b.latitude is not None and b.longitude is not None
    ]
    postal = re.search(r"\b(\d{5})\b", said)

    def shared(branch: Branch) -> int:
        code = postal[1] if postal else ""
        return next(
            (
                i
                for i, (a, b) in enumerate(zip(code, branch.postal_code or "", strict=False))
                if a != b
            ),
            min(len(code), len(branch.postal_code or "")),
        )

    chosen = None
    if postal:
        best = max(branches, key=shared, default=None)
        if best is not None and shared(best) >= 1:
            chosen = best
    if chosen is None:
        chosen = next(
            (b for b in branches if b.city and f" {spoken_key(b.city)} " in f" {said} "), None
        )
    if chosen is None:
        raise Say(
            "Diesen Ort kann ich leider nicht zuordnen. Nennen Sie mir bitte Ihre Postleitzahl.",
            error="location_unknown",
        )
    return {"lat": float(chosen.latitude or 0), "lng": float(chosen.longitude or 0)}


FUNCTIONS: dict[str, Callable[[Call], Answer]] = {
    "check_availability": check_availability,
    "book_appointment": book_appointment,
    "cancel_appointment": cancel_appointment,
    "reschedule_appointment": reschedule_appointment,
    "find_nearest_branch": find_nearest_branch,
    "route_call": route_call,
}


def answer(body: dict[str, Any]) -> Answer:
    """The answer to one custom-function request body `{name, args, call}` (args at the root
    when the tool is configured with `args_at_root`). Never raises."""
    name = body.get("name")
    raw_call = body.get("call")
    call: dict[str, Any] = raw_call if isinstance(raw_call, dict) else {}
    args = body.get("args", {k: v for k, v in body.items() if k not in ("name", "call")})
    if not isinstance(args, dict):
        args = {}
    handler = FUNCTIONS.get(name) if isinstance(name, str) else None
    if handler is None or not isinstance(name, str):
        return Answer(
            "Diese Funktion kenne ich nicht.",
            {"error": {"type": "unknown_function", "name": str(name)[:64]}},
        )
    try:
        line = line_for(call.get("to_number"), call.get("agent_id"))
        if line is None:
            return Answer(
                "Diese Rufnummer ist bei uns nicht eingerichtet; ich kann hier leider keine "
                "Termine verwalten.",
                {"error": {"type": "line_unknown"}},
            )
        return handler(Call(line=line, call=call, args=args, name=name))
    except Say as refusal:
        return refusal.answer
    except DatabaseError:
        logger.warning("retell.database_unavailable", function=name)
        return Answer(_UNAVAILABLE, {"error": {"type": ErrorType.SERVICE_UNAVAILABLE.name.lower()}})
    except Exception:
        logger.exception("retell.function_failed", function=name, call_id=call.get("call_id"))
        return Answer(
            "Da ist leider etwas schiefgegangen. Ich verbinde Sie gern mit einem Mitarbeiter.",
            {"error": {"type": "internal"}},
        )
