"""What we tell a customer about a booking, in German: the SMS texts per kind and the e-mails.

The texts are Django templates: `templates/sms/<kind>.txt` for the SMS of each kind and
`templates/emails/booking_<kind>.txt` (with `_subject.txt`) for the e-mails, rendered with the
placeholder values of `booking_message_values` (`{{ termin }}`, `{{ nummer }}`, ...) and
autoescaping off (plain text).

A tenant may replace an SMS text with its own wording (`SmsTemplate`): plain text with
`{placeholder}` fields (`PLACEHOLDERS`, the same names), `{{` and `}}` standing for literal
braces, never a Django template. It is checked when it is saved (`sms_template_errors`): only
known placeholders, no format specs or attribute access, the kind's required placeholders
present, and the rendered text within one SMS's limit, so rendering cannot fail for a stored
template. Times are rendered in the branch's zone (`BookingConfirmation.start`), so a reminder
sent before a DST change names the local time of the appointment, not of the sending.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import transaction
from django.template.loader import render_to_string

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

SMS_TEMPLATES: dict[str, str] = {
    SmsKind.CONFIRMATION: "sms/confirmation.txt",
    SmsKind.REMINDER: "sms/reminder.txt",
    SmsKind.CANCELLATION: "sms/cancellation.txt",
    SmsKind.RESCHEDULE: "sms/reschedule.txt",
}
# Subject and body of the e-mail of each kind of booking message.
EMAIL_TEMPLATES: dict[str, tuple[str, str]] = {
    SmsKind.CONFIRMATION: (
        "emails/booking_confirmation_subject.txt",
        "emails/booking_confirmation.txt",
    ),
    SmsKind.CANCELLATION: (
        "emails/booking_cancellation_subject.txt",
        "emails/booking_cancellation.txt",
    ),
    SmsKind.RESCHEDULE: (
        "emails/booking_reschedule_subject.txt",
        "emails/booking_reschedule.txt",
    ),
}


class _DefaultTemplates(Mapping[str, str]):
    """The default SMS text of each kind as a tenant's own template would say it ("... am
    {termin} ..."): its Django template rendered with every placeholder standing for itself.
    What the admin shows next to a tenant's template. (A default text with a literal brace
    would need it doubled here; none has one.)"""

    def __getitem__(self, kind: str) -> str:
        own_names = {name: f"{{{name}}}" for name in PLACEHOLDERS}
        return render_to_string(SMS_TEMPLATES[kind], own_names)

    def __iter__(self) -> Iterator[str]:
        return iter(SMS_TEMPLATES)

    def __len__(self) -> int:
        return len(SMS_TEMPLATES)


DEFAULT_TEMPLATES: Mapping[str, str] = _DefaultTemplates()

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


def tenant_template(tenant: Company | None, kind: str) -> str:
    """The tenant's own template of `kind`; "" when it has none (the default text applies)."""
    if tenant is None:
        return ""
    body = (
        SmsTemplate.objects.for_tenant(tenant)
        .filter(kind=kind)
        .values_list("body", flat=True)
        .first()
    )
    return body or ""


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
        template = tenant_template(tenant, kind)
    values = booking_message_values(context, company_name=tenant.name if tenant else "")
    if template:
        text = template.format_map(values)
    else:
        text = render_to_string(SMS_TEMPLATES[kind], values)
    return text[:MAX_SMS_LENGTH]


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
        template, created = SmsTemplate.objects.for_tenant(tenant).update_or_create(
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


def booking_email(kind: str, booking: BookingConfirmation) -> tuple[str, str]:
    """Subject and body of the German e-mail of `kind` (confirmation, cancellation,
    reschedule) about the booking. Raises KeyError for another kind."""
    subject, body = EMAIL_TEMPLATES[kind]
    values = booking_message_values(booking)
    return render_to_string(subject, values).strip(), render_to_string(body, values)
