"""Writes about customers: find or create by phone number (the booking path's), upsert, GDPR
export and erasure.

Keyword-only, tenant first, actor second, one transaction, an audit row for every change.

Erasure (GDPR Art. 17) anonymises the person and keeps the business record: the customer row
stays (so appointments keep their customer and the statistics their numbers) with name, e-mail
and notes emptied, consents withdrawn and the phone number replaced by `erased:<id>`. That
placeholder is unique per tenant like a real number, never equals an E.164 number (so no
phone lookup or upsert finds the row again — a new call from that number creates a new
customer), and fails `validate_e164`, so the admin refuses to save an erased row instead of
storing a number in it again. Appointments keep status, times, price, branch, service and
staff; their free-text notes and cancellation reasons go. Calls lose the caller's number, the
transcript and the analysis. Earlier audit rows about the person are redacted; the erasure's
own audit row holds only counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings import notifications
from bookings.customer_selectors import (
    APPOINTMENT_TYPE,
    CustomerData,
    CustomerNotFound,
    InvalidCustomerInput,
    customer_audit_entries,
    customer_call_logs,
    customer_data,
    normalised_phone,
)
from bookings.models import Appointment, Customer
from bookings.queries import customer_by_phone, customer_insert, customer_update
from common.errors import ValidationFailed
from common.phone import InvalidPhoneNumber, normalize_phone
from mcp_core.audit import Ref, audit_record
from mcp_core.models import AuditLog, OutboxMessage, SagaRun
from tenants.models import Company

Errors = dict[str, list[str]]

NAME_MAX_LENGTH = 200  # Customer.name
LANGUAGE_MAX_LENGTH = 8  # Customer.language
ERASED = "[erased]"
# Keys of appointment audit rows that can hold a person's data ("error": a provider's message
# may quote the recipient).
PERSONAL_KEYS = frozenset(
    {
        "error",
        "name",
        "phone",
        "email",
        "notes",
        "customer_name",
        "customer_phone",
        "customer_email",
        "cancellation_reason",
        "reason",
    }
)
# Audit actions about a customer whose rows hold only counts: never redacted.
COUNT_ONLY_ACTIONS = frozenset({"customer.erased", "customer.data_exported"})


def erased_phone(customer_id: int) -> str:
    """The phone placeholder of an erased customer (see the module docstring)."""
    return f"erased:{customer_id}"


# ---------------------------------------------------------------------------- find or create


def customer_get_or_create_by_phone(
    *, tenant: Company, actor: str, phone: str, name: str = "", email: str = ""
) -> Customer:
    """The tenant's customer with this phone number (normalised to E.164, default region DE),
    created when there is none. A name or e-mail fills in one not known yet, never overwrites.

    Race-safe: when a concurrent call creates the same number first, the insert fails on the
    unique constraint and the winner's row is read back.
    Raises ValidationFailed (details "phone" or "email") for an undialable number or a
    malformed address.
    """
    try:
        normalized = normalize_phone(phone)
    except InvalidPhoneNumber as exc:
        raise ValidationFailed(
            "The phone number is not valid.", details={"phone": [str(exc)]}
        ) from exc
    customer_id = customer_id_by_phone(
        tenant=tenant, actor=actor, normalized=normalized, name=name, email=email
    )
    return Customer.objects.for_tenant(tenant).get(pk=customer_id)


def customer_id_by_phone(
    *, tenant: Company, actor: str, normalized: str, name: str, email: str
) -> int:
    """`customer_get_or_create_by_phone` for an E.164 number, returning only the id: the
    booking path needs no more, and reads three columns instead of building the instance."""
    name, email = name.strip()[:200], email.strip()
    if email:
        check_email(email, field="email")
    for _ in range(2):
        found = customer_by_phone(tenant_id=tenant.pk, phone=normalized)
        if found is not None:
            customer_id, known_name, known_email = found
            customer_fill_in(
                tenant=tenant,
                actor=actor,
                customer_id=customer_id,
                known=(known_name, known_email),
                name=name,
                email=email,
            )
            return customer_id
        try:
            with transaction.atomic():
                customer_id = customer_insert(
                    tenant_id=tenant.pk, phone=normalized, name=name, email=email
                )
                audit_record(
                    tenant=tenant,
                    actor=actor,
                    action="customer.created",
                    obj=Ref(Customer, customer_id),
                    changes={"phone": normalized, "name": name, "email": email},
                )
            return int(customer_id)
        except IntegrityError:
            continue  # created concurrently: the next round reads the winner's row
    raise RuntimeError(f"customer {normalized} could neither be created nor found")


def customer_fill_in(
    *,
    tenant: Company,
    actor: str,
    customer_id: int,
    known: tuple[str, str],
    name: str,
    email: str,
) -> None:
    """Fill in the name and e-mail the customer (`known`: their current name and e-mail) does
    not have yet."""
    fill = {}
    if name and not known[0]:
        fill["name"] = name
    if email and not known[1]:
        fill["email"] = email
    if not fill:
        return
    with transaction.atomic():
        customer_update({"pk": customer_id, "tenant_id": tenant.pk}, **fill)
        audit_record(
            tenant=tenant,
            actor=actor,
            action="customer.updated",
            obj=Ref(Customer, customer_id),
            changes={key: ["", value] for key, value in fill.items()},
        )


def check_email(email: str, *, field: str) -> None:
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationFailed(
            "The e-mail address is not valid.", details={field: ["Enter a valid e-mail address."]}
        ) from exc


# ------------------------------------------------------------------------------------ upsert


@dataclass(frozen=True)
class UpsertResult:
    customer: Customer
    created: bool


def _clean_changes(
    *,
    name: str | None,
    email: str | None,
    language: str | None,
    sms_consent: bool | None,
    marketing_consent: bool | None,
) -> dict[str, Any]:
    errors: Errors = {}
    cleaned: dict[str, Any] = {}
    if name is not None:
        cleaned["name"] = name.strip()
        if len(cleaned["name"]) > NAME_MAX_LENGTH:
            errors["name"] = [f"At most {NAME_MAX_LENGTH} characters."]
    if email is not None:
        cleaned["email"] = email.strip()
        if cleaned["email"]:
            try:
                validate_email(cleaned["email"])
            except ValidationError:
                errors["email"] = ["Enter a valid e-mail address."]
    if language is not None:
        cleaned["language"] = language.strip()
        if not 2 <= len(cleaned["language"]) <= LANGUAGE_MAX_LENGTH:
            errors["language"] = ["Use a language code such as 'de' or 'en'."]
    for field, value in (("sms_consent", sms_consent), ("marketing_consent", marketing_consent)):
        if value is not None:
            if not isinstance(value, bool):
                errors[field] = ["Must be true or false."]
            cleaned[field] = value
    if errors:
        raise InvalidCustomerInput(details=errors)
    return cleaned


@transaction.atomic
def customer_upsert(
    *,
    tenant: Company,
    actor: str,
    phone: str,
    name: str | None = None,
    email: str | None = None,
    language: str | None = None,
    sms_consent: bool | None = None,
    marketing_consent: bool | None = None,
) -> UpsertResult:
    """Find the customer by phone number (normalised to E.164) or create them, then set the
    fields given (None: keep). A change of either consent stamps `consent_updated_at`.

    Raises InvalidCustomerInput (details: field → messages) before anything is written.
    Creation goes through `customer_get_or_create_by_phone`; a change writes a
    `customer.updated` audit row with {field: [old, new]}.
    """
    e164 = normalised_phone(phone)
    changes = _clean_changes(
        name=name,
        email=email,
        language=language,
        sms_consent=sms_consent,
        marketing_consent=marketing_consent,
    )
    existing = Customer.objects.for_tenant(tenant).select_for_update().filter(phone=e164).first()
    customer = existing or customer_get_or_create_by_phone(
        tenant=tenant,
        actor=actor,
        phone=e164,
        name=changes.get("name", ""),
        email=changes.get("email", ""),
    )
    diff: dict[str, list[Any]] = {}
    for field, new in changes.items():
        old = getattr(customer, field)
        if old != new:
            diff[field] = [old, new]
            setattr(customer, field, new)
    if diff:
        fields = list(diff)
        if {"sms_consent", "marketing_consent"} & set(diff):
            customer.consent_updated_at = timezone.now()
            fields.append("consent_updated_at")
        customer.save(update_fields=[*fields, "updated_at"])
        audit_record(
            tenant=tenant, actor=actor, action="customer.updated", obj=customer, changes=diff
        )
    return UpsertResult(customer=customer, created=existing is None)


# ------------------------------------------------------------------------------------ GDPR


@transaction.atomic
def customer_data_export(*, tenant: Company, actor: str, customer_id: int) -> CustomerData:
    """Everything held on a customer: profile and consents, appointments, calls (linked or
    from their number) and audit rows about them and their appointments.

    Raises CustomerNotFound (also for another tenant's id). Writes a `customer.data_exported`
    audit row holding only counts (the disclosure itself is recorded, not the data).
    """
    data = customer_data(tenant=tenant, customer_id=customer_id)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="customer.data_exported",
        obj=data.customer,
        changes={
            "appointments": len(data.appointments),
            "call_logs": len(data.call_logs),
            "audit_entries": len(data.audit_entries),
        },
    )
    return data


@dataclass(frozen=True)
class ErasureResult:
    customer: Customer
    already_erased: bool
    appointments_kept: int
    call_logs_scrubbed: int
    audit_entries_redacted: int


@transaction.atomic
def customer_erase(
    *, tenant: Company, actor: str, customer_id: int, now: dt.datetime | None = None
) -> ErasureResult:
    """Anonymise a customer's personal data and keep their appointments' statistics (see the
    module docstring for what changes). Idempotent: erasing again removes only what was added
    since, and an erasure that changes nothing writes nothing.

    Raises CustomerNotFound (also for another tenant's id). Writes a `customer.erased` audit
    row with counts only.
    """
    customer = (
        Customer.objects.for_tenant(tenant).select_for_update().filter(pk=customer_id).first()
    )
    if customer is None:
        raise CustomerNotFound(details={"customer_id": customer_id})
    already_erased = customer.erased_at is not None
    # Found before the number goes: calls from it that were never linked to the customer.
    calls = customer_call_logs(tenant=tenant, customer=customer)
    scrubbed = calls.exclude(from_number="", transcript="", analysis={}).update(
        from_number="", transcript="", analysis={}
    )
    appointments = Appointment.objects.for_tenant(tenant).filter(customer=customer)
    kept = appointments.count()
    notes_cleared = appointments.exclude(notes="", cancellation_reason="").update(
        notes="", cancellation_reason=""
    )
    redacted = _redact_audit_entries(tenant=tenant, customer=customer)
    _erase_saga_contexts(tenant=tenant, customer=customer)
    _erase_delivery_errors(
        tenant=tenant, appointment_ids=list(appointments.values_list("pk", flat=True))
    )
    notifications.sms_records_erase(tenant=tenant, customer_id=customer.pk, phone=customer.phone)
    profile_changed = _anonymise(customer, now or timezone.now())
    if profile_changed or scrubbed or notes_cleared or redacted:
        audit_record(
            tenant=tenant,
            actor=actor,
            action="customer.erased",
            obj=customer,
            changes={
                "appointments_kept": kept,
                "call_logs_scrubbed": scrubbed,
                "audit_entries_redacted": redacted,
            },
        )
    return ErasureResult(
        customer=customer,
        already_erased=already_erased,
        appointments_kept=kept,
        call_logs_scrubbed=scrubbed,
        audit_entries_redacted=redacted,
    )


def _erase_saga_contexts(*, tenant: Company, customer: Customer) -> int:
    """Empty the booking notes the booking saga keeps in its runs' contexts for this customer's
    bookings. A retry of such a booking's idempotency key then no longer matches its run."""
    runs = SagaRun.objects.for_tenant(tenant).filter(context__data__customer_id=customer.pk)
    erased = 0
    for run in runs.exclude(context__data__notes=""):
        run.context = {**run.context, "data": {**run.context["data"], "notes": ""}}
        run.save(update_fields=["context"])
        erased += 1
    return erased


def _erase_delivery_errors(*, tenant: Company, appointment_ids: list[int]) -> int:
    """A provider's error text kept on an outbox message of the customer's bookings, and in the
    audit row of its dead-lettering, may quote their number or name: it is replaced; topic,
    attempts and status stay."""
    messages = OutboxMessage.objects.for_tenant(tenant).filter(
        payload__appointment_id__in=appointment_ids
    )
    message_ids = [str(pk) for pk in messages.values_list("pk", flat=True)]
    for entry in AuditLog.objects.for_tenant(tenant).filter(
        object_type=OutboxMessage._meta.label_lower, object_id__in=message_ids
    ):
        if (entry.changes or {}).get("error") not in (None, "", ERASED):
            entry.changes = {**entry.changes, "error": ERASED}
            entry.save(update_fields=["changes"])
    return messages.exclude(last_error="").exclude(last_error=ERASED).update(last_error=ERASED)


def _anonymise(customer: Customer, now: dt.datetime) -> bool:
    target: dict[str, Any] = {
        "name": "",
        "email": "",
        "notes": "",
        "phone": erased_phone(customer.pk),
        "sms_consent": False,
        "marketing_consent": False,
    }
    changed = [field for field, value in target.items() if getattr(customer, field) != value]
    for field in changed:
        setattr(customer, field, target[field])
    if {"sms_consent", "marketing_consent"} & set(changed):
        customer.consent_updated_at = now
        changed.append("consent_updated_at")
    if customer.erased_at is None:
        customer.erased_at = now
        changed.append("erased_at")
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
    return bool(changed)


def _redact_audit_entries(*, tenant: Company, customer: Customer) -> int:
    """Blank the values in audit rows about the customer (all of them) and about their
    appointments (those under PERSONAL_KEYS); which fields changed, when and by whom stays."""
    redacted = 0
    entries = customer_audit_entries(tenant=tenant, customer=customer).exclude(
        action__in=COUNT_ONLY_ACTIONS
    )
    for entry in entries:
        personal = (
            PERSONAL_KEYS if entry.object_type == APPOINTMENT_TYPE else set(entry.changes or {})
        )
        changes = {
            key: ERASED if key in personal and value not in (ERASED, None) else value
            for key, value in (entry.changes or {}).items()
        }
        if changes != entry.changes:
            entry.changes = changes
            entry.save(update_fields=["changes"])
            redacted += 1
    return redacted
