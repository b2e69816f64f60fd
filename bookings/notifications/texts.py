"""What we tell a customer about a booking, in German: the SMS texts per kind and the e-mails.

An SMS has a default text per kind here and a tenant's own wording in `SmsTemplate` when it saved
one. A tenant's template is plain text with `{placeholder}` fields (`PLACEHOLDERS`); `{{` and `}}`
stand for literal braces. A template is checked when it is saved (`sms_template_errors`): only
known placeholders, no format specs or attribute access, the kind's required placeholders
present, and the rendered text within one SMS's limit. Rendering therefore cannot fail for a
stored template. Times are rendered in the branch's zone (`BookingConfirmation.start`), so a
reminder sent before a DST change names the local time of the appointment, not of the sending.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import transaction

from bookings.enums import SmsKind
from bookings.models import Appointment, Customer, SmsTemplate
from mcp_core.audit import audit_record
from tenants.models import Company

TEMPLATE_KINDS = (
    SmsKind.CONFIRMATION,
    SmsKind.REMINDER,
    SmsKind.CANCELLATION,
    SmsKind.RESCHEDULE,
)
MAX_TEMPLATE_LENGTH = 1000
MAX_SMS_LENGTH = 1600  # Twilio's limit for one message body
_WEEKDAYS_DE = ("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So.")

PLACEHOLDERS: dict[str, str] = {
    "kunde": "Name des Kunden (leer, wenn unbekannt)",
    "dienstleistung": "Name der Dienstleistung",
    "filiale": "Name der Filiale",
    "mitarbeiter": "Name des Mitarbeiters",
    "termin": "Wochentag, Datum und Uhrzeit, z. B. 'Mo. 30.03.2026 um 10:00 Uhr'",
    "datum": "Datum, z. B. '30.03.2026'",
    "uhrzeit": "Uhrzeit in der Zeitzone der Filiale, z. B. '10:00'",
    "nummer": "Bestätigungsnummer des Termins",
    "firma": "Name des Unternehmens",
}

# Every text names the appointment's time: {termin}, or {datum} and {uhrzeit}. Those that
# confirm a (new) booking also carry the number the customer needs to change it.
REQUIRED_PLACEHOLDERS: dict[str, frozenset[str]] = {
    SmsKind.CONFIRMATION: frozenset({"nummer"}),
    SmsKind.REMINDER: frozenset(),
    SmsKind.CANCELLATION: frozenset(),
    SmsKind.RESCHEDULE: frozenset({"nummer"}),
}

DEFAULT_TEMPLATES: dict[str, str] = {
    SmsKind.CONFIRMATION: (
        "Termin bestätigt: {dienstleistung} am {termin} bei {filiale}. Bestätigungs-Nr: {nummer}"
    ),
    SmsKind.REMINDER: (
        "Erinnerung: Ihr Termin {dienstleistung} ist am {termin} bei {filiale}. "
        "Absagen oder verschieben mit der Bestätigungs-Nr: {nummer}"
    ),
    SmsKind.CANCELLATION: (
        "Termin abgesagt: {dienstleistung} am {termin} bei {filiale}. Bestätigungs-Nr: {nummer}"
    ),
    SmsKind.RESCHEDULE: (
        "Termin verschoben: {dienstleistung} jetzt am {termin} bei {filiale}. "
        "Bestätigungs-Nr: {nummer}"
    ),
}

# The longest value each placeholder can plausibly take, for the length check on save.
_LONGEST_SAMPLE: dict[str, str] = {
    "kunde": "x" * 200,
    "dienstleistung": "x" * 200,
    "filiale": "x" * 200,
    "mitarbeiter": "x" * 200,
    "termin": "Mo. 30.03.2026 um 10:00 Uhr",
    "datum": "30.03.2026",
    "uhrzeit": "10:00",
    "nummer": "x" * 12,
    "firma": "x" * 200,
}


@dataclass(frozen=True)
class BookingConfirmation:
    """What a message about one appointment says, and to whom."""

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


def when_text(start: dt.datetime) -> str:
    """'Mo. 30.03.2026 um 10:00 Uhr' for an aware time, in that time's own zone."""
    return f"{_WEEKDAYS_DE[start.weekday()]} {start:%d.%m.%Y} um {start:%H:%M} Uhr"


def sms_template_errors(kind: str, body: str) -> list[str]:
    """Why `body` may not be stored as the template of `kind`; empty when it may."""
    if kind not in TEMPLATE_KINDS:
        return [f"Unknown kind {kind!r}; one of {', '.join(TEMPLATE_KINDS)}."]
    if not body.strip():
        return ["The template may not be empty."]
    if len(body) > MAX_TEMPLATE_LENGTH:
        return [f"At most {MAX_TEMPLATE_LENGTH} characters; this has {len(body)}."]
    messages: list[str] = []
    used: set[str] = set()
    try:
        fields = list(string.Formatter().parse(body))
    except ValueError as exc:
        return [f"Braces do not match ({exc}); write {{{{ and }}}} for literal braces."]
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            allowed = ", ".join(f"{{{key}}}" for key in PLACEHOLDERS)
            messages.append(f"Unknown placeholder {{{name}}}; allowed are {allowed}.")
            continue
        if spec or conversion:
            messages.append(f"Placeholder {{{name}}} may not carry a format (':' or '!').")
        used.add(name)
    missing = sorted(REQUIRED_PLACEHOLDERS[kind] - used)
    if "termin" not in used and not {"datum", "uhrzeit"} <= used:
        messages.append("The time is missing: use {termin}, or {datum} and {uhrzeit}.")
    if missing:
        messages.append(
            "Required placeholder(s) missing: " + ", ".join(f"{{{name}}}" for name in missing)
        )
    if not messages:
        longest = body.format_map(_LONGEST_SAMPLE)
        if len(longest) > MAX_SMS_LENGTH:
            messages.append(
                f"With long names the text could reach {len(longest)} characters; "
                f"an SMS holds at most {MAX_SMS_LENGTH}."
            )
    return messages


def template_for(tenant: Company | None, kind: str) -> str:
    """The tenant's template of `kind`, or the default."""
    if tenant is not None:
        body = (
            SmsTemplate.objects.for_tenant(tenant)
            .filter(kind=kind)
            .values_list("body", flat=True)
            .first()
        )
        if body:
            return body
    return DEFAULT_TEMPLATES[kind]


def booking_message_values(
    context: BookingConfirmation, *, company_name: str = ""
) -> Mapping[str, str]:
    start = context.start
    return {
        "kunde": context.customer_name,
        "dienstleistung": context.service_name,
        "filiale": context.branch_name,
        "mitarbeiter": context.staff_name,
        "termin": when_text(start),
        "datum": f"{start:%d.%m.%Y}",
        "uhrzeit": f"{start:%H:%M}",
        "nummer": context.confirmation_number,
        "firma": company_name,
    }


def render_booking_message(
    tenant: Company | None, kind: str, context: BookingConfirmation, *, template: str | None = None
) -> str:
    """The SMS text of `kind` (confirmation, reminder, cancellation, reschedule) about the
    booking in `context`, in the tenant's wording when it has one (`template` when the caller
    read it already, "" for none). `tenant=None` uses the defaults. Raises KeyError for an
    unknown kind."""
    if template is None:
        template = template_for(tenant, kind)
    template = template or DEFAULT_TEMPLATES[kind]
    values = booking_message_values(context, company_name=tenant.name if tenant else "")
    return template.format_map(values)[:MAX_SMS_LENGTH]


class InvalidSmsTemplate(ValueError):
    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("; ".join(messages))


def sms_template_set(*, tenant: Company, actor: str, kind: str, body: str) -> SmsTemplate:
    """Store the tenant's template of `kind` (replacing its previous one).

    Raises InvalidSmsTemplate with the reasons when the body fails `sms_template_errors`.
    Writes an `sms_template.updated` audit row."""
    if messages := sms_template_errors(kind, body):
        raise InvalidSmsTemplate(messages)
    with transaction.atomic():
        template, created = SmsTemplate.objects.update_or_create(
            tenant=tenant, kind=kind, defaults={"body": body}
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action="sms_template.created" if created else "sms_template.updated",
            obj=template,
            changes={"kind": kind, "body": body},
        )
    return template


def sms_template_reset(*, tenant: Company, actor: str, kind: str) -> bool:
    """Drop the tenant's template of `kind`, so the default applies again; True if one existed."""
    with transaction.atomic():
        template = SmsTemplate.objects.for_tenant(tenant).filter(kind=kind).first()
        if template is None:
            return False
        audit_record(
            tenant=tenant,
            actor=actor,
            action="sms_template.reset",
            obj=template,
            changes={"kind": kind},
        )
        template.delete()
    return True


# ---------------------------------------------------------------------------------- e-mails


def confirmation_email(confirmation: BookingConfirmation) -> tuple[str, str]:
    """Subject and body of the German confirmation e-mail."""
    greeting = f"Hallo {confirmation.customer_name}," if confirmation.customer_name else "Hallo,"
    subject = f"Terminbestätigung {confirmation.confirmation_number}"
    body = (
        f"{greeting}\n\n"
        f"Ihr Termin ist bestätigt:\n\n"
        f"{confirmation.service_name}\n"
        f"{when_text(confirmation.start)}\n"
        f"bei {confirmation.staff_name}, {confirmation.branch_name}\n\n"
        f"Bestätigungs-Nr: {confirmation.confirmation_number}\n\n"
        f"Bitte nennen Sie diese Nummer, wenn Sie den Termin ändern oder absagen möchten.\n"
    )
    return subject, body


def booking_email(kind: str, booking: BookingConfirmation) -> tuple[str, str]:
    """Subject and body of the German e-mail of `kind` (confirmation, cancellation,
    reschedule) about the booking."""
    if kind == SmsKind.CONFIRMATION:
        return confirmation_email(booking)
    greeting = f"Hallo {booking.customer_name}," if booking.customer_name else "Hallo,"
    when, number = when_text(booking.start), booking.confirmation_number
    if kind == SmsKind.CANCELLATION:
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
    return subject, body
