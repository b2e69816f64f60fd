"""One Retell custom-function request and its answer: the spoken arguments read (German dates
and times in the branch's zone, the service by name or synonym), operations run as
`system:retell` for the tenant of the dialled number, every failure a sentence the agent can
say (docs/contract.md, "Retell custom functions")."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from bookings.confirmation import normalize_confirmation_number
from bookings.models import Appointment
from bookings.spoken_time import (
    AmbiguousDate,
    SpokenTime,
    UnclearDate,
    UnclearTime,
    parse_date,
    parse_spoken_time,
)
from common.errors import ApplicationError, ErrorType
from common.phone import InvalidPhoneNumber, normalize_phone
from integrations.retell import speech
from integrations.retell.lines import Line
from mcp_core.auth import Principal
from mcp_core.orchestrator import execute_named
from mcp_core.permissions import Role
from staff.errors import ServiceNotFound, StaffNotFound
from staff.spoken import ServiceAmbiguous, service_match
from tenants.models import Branch

SOURCE = "phone"
OFFERED_SLOTS = 3
NOTES_LIMIT = 1000


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
            raise spoken_error(result.error)
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
        except AmbiguousDate as exc:
            days = [speech.day(option) for option in exc.options]
            raise Say(
                f"Meinen Sie {speech.choices(days)}?",
                error="ambiguous_date",
                options=[option.isoformat() for option in exc.options],
            ) from exc
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
        return self.spoken_time().time

    def spoken_time(self) -> SpokenTime:
        said = self.text("time", required=True)
        try:
            return parse_spoken_time(said)
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

    def idempotency_key(self) -> str:
        """The same for a retried function call (same call, same arguments), different for a
        new request in the same call."""
        material = json.dumps(
            {"call_id": self.call_id, "name": self.name, "args": self.args},
            sort_keys=True,
            default=str,
        )
        return "retell:" + hashlib.sha256(material.encode()).hexdigest()[:48]

    def booking(self) -> Booking:
        """book_appointment's arguments, read and checked in the order the agent should hear
        about a problem: branch, date, time; the rest only once the time is exact (an inexact
        one is answered with what is free around it)."""
        branch, today = self.branch(), self.today
        day = self.date()
        spoken = self.spoken_time()
        zone = ZoneInfo(branch.time_zone)
        if not spoken.exact:
            return Booking(branch=branch, zone=zone, day=day, spoken=spoken, today=today)
        service = self.text("service", required=True)
        args: dict[str, Any] = {
            "caller_phone": self.caller(),
            "branch_id": branch.pk,
            "start_time": dt.datetime.combine(day, spoken.time).isoformat(),
            "service": service,
            "customer_name": self.text("customer_name")[:200],
            "call_id": self.call_id[:100],
            "notes": self.text("notes")[:NOTES_LIMIT],
        }
        staff = self.text("staff")
        if staff:
            args["staff"] = staff[:200]
        if self.call_id:
            args["idempotency_key"] = self.idempotency_key()
        return Booking(branch=branch, zone=zone, day=day, spoken=spoken, today=today, args=args)

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


@dataclass(frozen=True)
class Booking:
    """One book_appointment request, read once: `args` are processPhoneBooking's (empty while
    the spoken time is not exact)."""

    branch: Branch
    zone: ZoneInfo
    day: dt.date
    spoken: SpokenTime
    today: dt.date
    args: dict[str, Any] = field(default_factory=dict)


UNAVAILABLE = (
    "Unser Buchungssystem ist gerade nicht erreichbar. Bitte versuchen Sie es später noch einmal."
)
_MISSING = {
    "service": "Welche Leistung möchten Sie buchen?",
    "date": "An welchem Tag möchten Sie kommen?",
    "time": "Um wie viel Uhr möchten Sie kommen?",
    "confirmation_number": "Wie lautet Ihre Bestätigungsnummer?",
}


def spoken_error(error: ApplicationError) -> Say:
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
        ErrorType.SERVICE_UNAVAILABLE: UNAVAILABLE,
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


def spoken_service_id(request: Call, branch: Branch) -> int:
    said = request.text("service", required=True)
    try:
        return service_match(tenant=request.line.tenant, said=said, branch_id=branch.pk).pk
    except ApplicationError as exc:
        raise spoken_error(exc) from exc


def distinct(slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One slot per start time (the first staff member's), by start."""
    seen: dict[str, dict[str, Any]] = {}
    for item in slots:
        seen.setdefault(item["start"], item)
    return sorted(seen.values(), key=lambda item: dt.datetime.fromisoformat(item["start"]))


def local(value: str, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(zone)
