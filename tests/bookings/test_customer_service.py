"""The customer.* operations through the orchestrator, and the GDPR commands.

Unless a test says otherwise: "Salon Sonnenschein" with branch "Berlin Mitte", Anna doing
"Damenhaarschnitt" (49.00 EUR), and Erika Mustermann with three appointments (one completed,
one cancelled, one upcoming), two calls from her number (one linked to her) and audit rows
about her; `now` is fixed at Wednesday 2027-06-02 08:00 in Berlin.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from bookings.enums import AppointmentStatus
from bookings.models import Appointment, Customer
from mcp_core.auth import Principal
from mcp_core.models import AuditLog
from mcp_core.operations import registry
from mcp_core.permissions import Role
from routing.models import CallLog
from tenants.models import Company
from tests.factories import (
    AppointmentFactory,
    AuditLogFactory,
    BranchFactory,
    CallLogFactory,
    CompanyFactory,
    CustomerFactory,
    ServiceFactory,
    StaffFactory,
)
from tests.operations import failed, ok, principal_for

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2027, 6, 2, 8, 0, tzinfo=BERLIN)
NOW_UTC = "2027-06-02T06:00:00+00:00"  # profile and audit timestamps are given in UTC
PHONE = "+4915112345678"
PERSONAL = ("Erika", "Mustermann", PHONE, "erika@example.org", "Ammoniak", "Kaffee", "krank")

CUSTOMER_OPERATIONS = {
    "customer.getCustomer": "access-mcp",
    "customer.getCustomers": "access-mcp",
    "customer.findCustomer": "access-mcp",
    "customer.upsertCustomer": "manage-customers",
    "customer.listCustomerBookings": "access-mcp",
    "customer.exportCustomerData": "erase-personal-data",
    "customer.eraseCustomerData": "erase-personal-data",
}


# ----------------------------------------------------------------------------------- helpers


def at(day: str, hh_mm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hh_mm}").replace(tzinfo=BERLIN)


def audit_json(tenant: Company) -> str:
    rows = AuditLog.objects.for_tenant(tenant).order_by("pk")
    return json.dumps([[row.actor, row.action, row.object_id, row.changes] for row in rows])


def command(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def command_fails(*args: str) -> dict[str, Any]:
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command(*args, "--json", stdout=out)
    assert exited.value.code == 1
    return json.loads(out.getvalue())["error"]


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def frozen_now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def tenant() -> Company:
    return CompanyFactory(name="Salon Sonnenschein")


@pytest.fixture
def owner(tenant: Company) -> Principal:
    return principal_for(tenant)


@pytest.fixture
def salon(tenant: Company) -> dict[str, Any]:
    branch = BranchFactory(tenant=tenant, name="Berlin Mitte")
    return {
        "branch": branch,
        "service": ServiceFactory(tenant=tenant, name="Damenhaarschnitt", price=Decimal("49.00")),
        "staff": StaffFactory(branch=branch, tenant=tenant, name="Anna Becker"),
    }


@pytest.fixture
def erika(tenant: Company) -> Customer:
    return CustomerFactory(
        tenant=tenant,
        phone=PHONE,
        name="Erika Mustermann",
        email="erika@example.org",
        notes="Allergie gegen Ammoniak",
        sms_consent=True,
    )


def booking(salon: dict[str, Any], customer: Customer, start: dt.datetime, **kwargs: Any) -> Any:
    return AppointmentFactory(
        tenant=customer.tenant,
        staff=salon["staff"],
        branch=salon["branch"],
        service=salon["service"],
        customer=customer,
        start_time=start,
        **kwargs,
    )


@pytest.fixture
def history(salon: dict[str, Any], erika: Customer) -> dict[str, Any]:
    done = booking(
        salon,
        erika,
        at("2027-05-10", "10:00"),
        status=AppointmentStatus.COMPLETED,
        notes="Bitte Kaffee",
    )
    cancelled = booking(
        salon,
        erika,
        at("2027-05-20", "10:00"),
        status=AppointmentStatus.CANCELLED,
        cancellation_reason="krank",
    )
    upcoming = booking(salon, erika, at("2027-06-07", "10:00"))
    linked = CallLogFactory(
        tenant=erika.tenant,
        branch=salon["branch"],
        call_id="call_linked",
        from_number=PHONE,
        customer=erika,
        appointment=upcoming,
        transcript="Hallo, hier ist Erika Mustermann.",
        analysis={"summary": "Erika bucht einen Haarschnitt."},
    )
    unlinked = CallLogFactory(
        tenant=erika.tenant,
        branch=salon["branch"],
        call_id="call_unlinked",
        from_number=PHONE,
        transcript="Wann haben Sie offen?",
    )
    other = CallLogFactory(
        tenant=erika.tenant,
        branch=salon["branch"],
        call_id="call_other",
        from_number="+4915199999999",
        transcript="Jemand anderes.",
    )
    AuditLogFactory(
        tenant=erika.tenant,
        action="customer.updated",
        object_type="bookings.customer",
        object_id=str(erika.pk),
        changes={"name": ["", "Erika Mustermann"], "sms_consent": [False, True]},
    )
    AuditLogFactory(
        tenant=erika.tenant,
        action="appointment.created",
        object_type="bookings.appointment",
        object_id=str(done.pk),
        changes={"customer_phone": PHONE, "status": "confirmed"},
    )
    return {
        "done": done,
        "cancelled": cancelled,
        "upcoming": upcoming,
        "linked": linked,
        "unlinked": unlinked,
        "other": other,
    }


def erika_json(erika: Customer) -> dict[str, Any]:
    erika.refresh_from_db()
    return {
        "id": erika.pk,
        "phone": PHONE,
        "name": "Erika Mustermann",
        "email": "erika@example.org",
        "language": "de",
        "sms_consent": True,
        "marketing_consent": False,
        "consent_updated_at": None,
        "notes": "Allergie gegen Ammoniak",
        "erased_at": None,
        "created_at": erika.created_at.isoformat(),
        "updated_at": erika.updated_at.isoformat(),
    }


# ---------------------------------------------------------------------------------- registry


def test_the_registry_holds_exactly_the_six_customer_operations():
    ops = {op.name: op for op in registry if op.service == "customer"}
    assert {name: str(op.permission) for name, op in ops.items()} == CUSTOMER_OPERATIONS
    for op in ops.values():
        assert op.input_schema()["additionalProperties"] is False, op.name
        assert op.description, op.name
        for field, spec in op.input_schema().get("properties", {}).items():
            assert spec.get("description"), f"{op.name}.{field}"
    assert ops["customer.eraseCustomerData"].destructive


# ------------------------------------------------------------------------ getCustomer, find


def test_get_customer(owner, erika):
    assert ok(owner, "customer.getCustomer", {"customer_id": erika.pk}) == {
        "customer": erika_json(erika)
    }


def test_get_customers_by_id_leaves_out_unknown_and_foreign_ids(owner, tenant, erika):
    max_ = CustomerFactory(tenant=tenant, name="Max Mustermann", phone="+4915122222222")
    foreign = CustomerFactory(name="Erika Mustermann", phone=PHONE)  # another tenant's

    found = ok(
        owner, "customer.getCustomers", {"customer_ids": [max_.pk, foreign.pk, erika.pk, 10**9]}
    )

    # By id (Erika was created first); another tenant's and unknown ids are left out.
    assert [c["id"] for c in found["customers"]] == [erika.pk, max_.pk]
    assert found["customers"][0] == erika_json(erika)


@pytest.mark.parametrize(
    ("ids", "field"),
    [
        ([], "customer_ids"),
        (list(range(1, 102)), "customer_ids"),
        ([True], "customer_ids.0"),
        ([0], "customer_ids.0"),
    ],
)
def test_get_customers_refuses_bad_id_lists(owner, ids, field):
    kind, details = failed(owner, "customer.getCustomers", {"customer_ids": ids})

    assert kind == "VALIDATION_FAILED"
    assert field in details


def test_find_customer_by_phone_name_or_email(owner, tenant, erika):
    max_ = CustomerFactory(tenant=tenant, name="Max Mustermann", phone="+4915122222222")
    CustomerFactory(name="Erika Mustermann", phone=PHONE)  # another tenant's

    by_phone = ok(owner, "customer.findCustomer", {"phone": "0151 12345678"})
    assert by_phone == {"customers": [erika_json(erika)], "count": 1}
    by_name = ok(owner, "customer.findCustomer", {"name": "MUSTER"})
    assert [c["id"] for c in by_name["customers"]] == [erika.pk, max_.pk]
    by_email = ok(owner, "customer.findCustomer", {"email": "Erika@Example.org"})
    assert [c["id"] for c in by_email["customers"]] == [erika.pk]
    both = ok(owner, "customer.findCustomer", {"name": "max", "phone": PHONE})
    assert both == {"customers": [], "count": 0}


def test_find_customer_returns_at_most_20(owner, tenant):
    for n in range(25):
        CustomerFactory(tenant=tenant, name=f"Kunde {n:02d}")
    found = ok(owner, "customer.findCustomer", {"name": "kunde"})
    assert found["count"] == 20
    assert found["customers"][0]["name"] == "Kunde 00"


def test_find_customer_validates(owner):
    assert failed(owner, "customer.findCustomer", {}) == (
        "VALIDATION_FAILED",
        {"params": ["Value error, give at least one of phone, name, email"]},
    )
    assert failed(owner, "customer.findCustomer", {"phone": "12"}) == (
        "VALIDATION_FAILED",
        {
            "phone": [
                "'12' is not a valid phone number; use E.164 (+49151…) or a German number (0151 …)."
            ]
        },
    )


# ---------------------------------------------------------------------------- upsertCustomer


def test_upsert_creates_a_customer_by_phone(owner, tenant):
    data = ok(
        owner,
        "customer.upsertCustomer",
        {"phone": "030 1234567", "name": "Hans Meier", "language": "en", "sms_consent": True},
    )

    customer = Customer.objects.all_tenants().get(phone="+49301234567")
    assert data["created"] is True
    assert data["customer"] == {
        "id": customer.pk,
        "phone": "+49301234567",
        "name": "Hans Meier",
        "email": "",
        "language": "en",
        "sms_consent": True,
        "marketing_consent": False,
        "consent_updated_at": NOW_UTC,
        "notes": "",
        "erased_at": None,
        "created_at": NOW_UTC,
        "updated_at": NOW_UTC,
    }
    assert [
        (row.action, row.changes) for row in AuditLog.objects.for_tenant(tenant).order_by("pk")
    ] == [
        ("customer.created", {"phone": "+49301234567", "name": "Hans Meier", "email": ""}),
        ("customer.updated", {"language": ["de", "en"], "sms_consent": [False, True]}),
    ]


def test_upsert_updates_only_the_fields_given(owner, tenant, erika):
    data = ok(
        owner,
        "customer.upsertCustomer",
        {"phone": "+49 151 12345678", "marketing_consent": True, "email": ""},
    )
    assert data["created"] is False
    assert data["customer"] | {"updated_at": None} == erika_json(erika) | {
        "email": "",
        "marketing_consent": True,
        "consent_updated_at": NOW_UTC,
        "updated_at": None,
    }
    assert Customer.objects.for_tenant(tenant).count() == 1
    rows = list(AuditLog.objects.for_tenant(tenant).values_list("action", "changes"))
    assert rows == [
        (
            "customer.updated",
            {"email": ["erika@example.org", ""], "marketing_consent": [False, True]},
        )
    ]
    # The same again changes nothing and records nothing.
    ok(owner, "customer.upsertCustomer", {"phone": PHONE, "marketing_consent": True})
    assert AuditLog.objects.for_tenant(tenant).count() == 1


@pytest.mark.parametrize(
    ("args", "details"),
    [
        ({"phone": "abc"}, {"phone": [
            "'abc' is not a phone number; use E.164 (+49151…) or a German number (0151 …)."]}),
        ({"phone": PHONE, "email": "no-at-sign"}, {"email": ["Enter a valid e-mail address."]}),
        ({"phone": PHONE, "name": None},
         {"name": ["May not be null; leave the field out to keep its value."]}),
        ({"phone": PHONE, "language": "Deutsch"},
         {"language": ["String should match pattern '^[a-z]{2,3}(-[A-Za-z]{2,4})?$'"]}),
        ({"name": "Ohne Nummer"}, {"phone": ["Field required"]}),
    ],
)  # fmt: skip
def test_upsert_refuses_bad_input_and_writes_nothing(owner, tenant, erika, args, details):
    before = erika_json(erika)
    assert failed(owner, "customer.upsertCustomer", args) == ("VALIDATION_FAILED", details)
    assert erika_json(erika) == before
    assert Customer.objects.for_tenant(tenant).count() == 1
    assert not AuditLog.objects.for_tenant(tenant).exists()


def test_upsert_needs_manage_customers(tenant):
    assert failed(
        principal_for(tenant, Role.READONLY), "customer.upsertCustomer", {"phone": PHONE}
    )[0] == ("PERMISSION_DENIED")
    assert not Customer.objects.all_tenants().exists()
    assert ok(principal_for(tenant, Role.STAFF), "customer.upsertCustomer", {"phone": PHONE})[
        "created"
    ]


# --------------------------------------------------------------------- listCustomerBookings


def test_list_customer_bookings_latest_first(owner, erika, history, salon):
    upcoming = history["upcoming"]
    data = ok(owner, "customer.listCustomerBookings", {"customer_id": erika.pk})
    assert [item["id"] for item in data["bookings"]] == [
        upcoming.pk,
        history["cancelled"].pk,
        history["done"].pk,
    ]
    assert data["bookings"][0] == {
        "id": upcoming.pk,
        "confirmation_number": upcoming.confirmation_number,
        "status": "confirmed",
        "start_time": "2027-06-07T10:00:00+02:00",
        "end_time": "2027-06-07T10:30:00+02:00",
        "branch_id": salon["branch"].pk,
        "service_id": salon["service"].pk,
        "staff_id": salon["staff"].pk,
        "customer_id": erika.pk,
        "sync_status": "not_required",
        "branch_name": "Berlin Mitte",
        "service_name": "Damenhaarschnitt",
        "staff_name": "Anna Becker",
        "price": "49.00",
    }
    assert (data["count"], data["page"], data["next_page"]) == (3, 1, None)
    completed = ok(
        owner, "customer.listCustomerBookings", {"customer_id": erika.pk, "status": "completed"}
    )
    assert [item["id"] for item in completed["bookings"]] == [history["done"].pk]
    paged = ok(owner, "customer.listCustomerBookings", {"customer_id": erika.pk, "page_size": 2})
    assert (len(paged["bookings"]), paged["next_page"]) == (2, 2)
    assert failed(
        owner, "customer.listCustomerBookings", {"customer_id": erika.pk, "status": "done"}
    )[0] == ("VALIDATION_FAILED")


# -------------------------------------------------------------------------------------- GDPR


def test_export_holds_everything_about_the_person(owner, tenant, erika, history, salon):
    data = ok(owner, "customer.exportCustomerData", {"customer_id": erika.pk})

    assert data["exported_at"] == NOW_UTC
    assert data["tenant_id"] == tenant.pk
    assert data["customer"] == erika_json(erika)
    assert data["consents"] == {
        "sms_consent": True,
        "marketing_consent": False,
        "consent_updated_at": None,
    }
    done = history["done"]
    assert [item["id"] for item in data["appointments"]] == [
        done.pk,
        history["cancelled"].pk,
        history["upcoming"].pk,
    ]
    assert data["appointments"][0] == {
        "id": done.pk,
        "confirmation_number": done.confirmation_number,
        "status": "completed",
        "start_time": "2027-05-10T10:00:00+02:00",
        "end_time": "2027-05-10T10:30:00+02:00",
        "branch_id": salon["branch"].pk,
        "branch_name": "Berlin Mitte",
        "service_id": salon["service"].pk,
        "service_name": "Damenhaarschnitt",
        "staff_id": salon["staff"].pk,
        "staff_name": "Anna Becker",
        "price": "49.00",
        "source": "api",
        "notes": "Bitte Kaffee",
        "cancellation_reason": "",
        "cancelled_at": None,
        "confirmed_at": None,
        "created_at": NOW_UTC,
    }
    assert data["appointments"][1]["cancellation_reason"] == "krank"
    assert sorted(call["call_id"] for call in data["call_logs"]) == ["call_linked", "call_unlinked"]
    linked = next(call for call in data["call_logs"] if call["call_id"] == "call_linked")
    assert linked == {
        "call_id": "call_linked",
        "branch_id": salon["branch"].pk,
        "from_number": PHONE,
        "to_number": "+493012345670",
        "direction": "inbound",
        "status": history["linked"].status,
        "outcome": history["linked"].outcome,
        "language": "",
        "started_at": None,
        "ended_at": None,
        "duration_seconds": None,
        "transcript": "Hallo, hier ist Erika Mustermann.",
        "analysis": {"summary": "Erika bucht einen Haarschnitt."},
        "appointment_id": history["upcoming"].pk,
    }
    assert [(entry["action"], entry["changes"]) for entry in data["audit_entries"]] == [
        ("customer.updated", {"name": ["", "Erika Mustermann"], "sms_consent": [False, True]}),
        ("appointment.created", {"customer_phone": PHONE, "status": "confirmed"}),
    ]
    last = AuditLog.objects.for_tenant(tenant).order_by("pk").last()
    assert (last.action, last.object_id, last.changes) == (
        "customer.data_exported",
        str(erika.pk),
        {"appointments": 3, "call_logs": 2, "audit_entries": 2},
    )


def test_erase_removes_personal_data_and_keeps_the_statistics(owner, tenant, erika, history, salon):
    staff_id = salon["staff"].pk
    performance_args = {"staff_id": staff_id, "date_from": "2027-05-01", "date_to": "2027-06-30"}
    before = ok(owner, "staff.getStaffPerformance", performance_args)

    data = ok(owner, "customer.eraseCustomerData", {"customer_id": erika.pk})

    assert data == {
        "customer_id": erika.pk,
        "erased_at": NOW_UTC,
        "already_erased": False,
        "appointments_kept": 3,
        "call_logs_scrubbed": 2,
        "audit_entries_redacted": 2,
    }
    erika.refresh_from_db()
    assert (
        erika.name,
        erika.email,
        erika.notes,
        erika.phone,
        erika.sms_consent,
        erika.marketing_consent,
        erika.consent_updated_at,
        erika.erased_at,
    ) == ("", "", "", f"erased:{erika.pk}", False, False, NOW, NOW)
    for key in ("linked", "unlinked"):
        call = CallLog.objects.all_tenants().get(pk=history[key].pk)
        assert (call.from_number, call.transcript, call.analysis) == ("", "", {})
    assert CallLog.objects.all_tenants().get(pk=history["linked"].pk).customer_id == erika.pk
    other = CallLog.objects.all_tenants().get(pk=history["other"].pk)
    assert (other.from_number, other.transcript) == ("+4915199999999", "Jemand anderes.")
    kept = Appointment.objects.all_tenants().filter(customer=erika).order_by("start_time")
    assert [(a.status, a.price, a.notes, a.cancellation_reason) for a in kept] == [
        ("completed", Decimal("49.00"), "", ""),
        ("cancelled", Decimal("49.00"), "", ""),
        ("confirmed", Decimal("49.00"), "", ""),
    ]
    assert ok(owner, "staff.getStaffPerformance", performance_args) == before
    assert before["revenue"] == "49.00" and before["bookings"] == 3
    trail = audit_json(tenant)
    for value in PERSONAL:
        assert value not in trail, value
    erased = AuditLog.objects.for_tenant(tenant).get(action="customer.erased")
    assert erased.changes == {
        "appointments_kept": 3,
        "call_logs_scrubbed": 2,
        "audit_entries_redacted": 2,
    }
    redacted = AuditLog.objects.for_tenant(tenant).get(action="customer.updated")
    assert redacted.changes == {"name": "[erased]", "sms_consent": "[erased]"}
    appointment_row = AuditLog.objects.for_tenant(tenant).get(action="appointment.created")
    assert appointment_row.changes == {"customer_phone": "[erased]", "status": "confirmed"}
    # The person is gone from every read.
    export = ok(owner, "customer.exportCustomerData", {"customer_id": erika.pk})
    assert export["customer"]["name"] == "" and export["customer"]["erased_at"] == NOW_UTC
    assert [call["transcript"] for call in export["call_logs"]] == [""]
    assert ok(owner, "customer.findCustomer", {"phone": PHONE})["count"] == 0


def test_erasing_twice_is_harmless_and_the_number_can_come_back(owner, tenant, erika, history):
    ok(owner, "customer.eraseCustomerData", {"customer_id": erika.pk})
    rows = AuditLog.objects.for_tenant(tenant).count()

    again = ok(owner, "customer.eraseCustomerData", {"customer_id": erika.pk})

    assert again == {
        "customer_id": erika.pk,
        "erased_at": NOW_UTC,
        "already_erased": True,
        "appointments_kept": 3,
        "call_logs_scrubbed": 0,
        "audit_entries_redacted": 0,
    }
    assert AuditLog.objects.for_tenant(tenant).count() == rows
    new = ok(owner, "customer.upsertCustomer", {"phone": PHONE, "name": "Neue Kundin"})
    assert new["created"] is True and new["customer"]["id"] != erika.pk


def test_only_the_owner_exports_or_erases(tenant, erika, history):
    before = erika_json(erika)
    for role in (Role.READONLY, Role.STAFF, Role.MANAGER):
        principal = principal_for(tenant, role)
        for name in ("customer.exportCustomerData", "customer.eraseCustomerData"):
            assert failed(principal, name, {"customer_id": erika.pk}) == (
                "PERMISSION_DENIED",
                {"required_permission": "erase-personal-data", "role": role},
            )
    assert erika_json(erika) == before
    assert CallLog.objects.all_tenants().get(pk=history["linked"].pk).transcript != ""
    assert (
        not AuditLog.objects.for_tenant(tenant).filter(action__startswith="customer.data").exists()
    )


def test_another_tenants_customer_is_not_found(owner, erika):
    foreign = CustomerFactory(name="Fremd")
    for name, args in (
        ("customer.getCustomer", {}),
        ("customer.listCustomerBookings", {}),
        ("customer.exportCustomerData", {}),
        ("customer.eraseCustomerData", {}),
    ):
        assert failed(owner, name, {"customer_id": foreign.pk, **args}) == (
            "RESOURCE_NOT_FOUND",
            {"customer_id": foreign.pk},
        ), name
    foreign.refresh_from_db()
    assert (foreign.name, foreign.erased_at) == ("Fremd", None)
    assert ok(owner, "customer.findCustomer", {"name": "Fremd"})["count"] == 0


# ---------------------------------------------------------------------------------- commands


def test_gdpr_export_command(tenant, erika, history):
    data = command("gdpr_export", "--customer", str(erika.pk))
    assert data["customer"] == erika_json(erika)
    assert len(data["appointments"]) == 3 and len(data["call_logs"]) == 2
    with_tenant = command("gdpr_export", "--customer", str(erika.pk), "--tenant", str(tenant.pk))
    assert with_tenant["customer"]["id"] == erika.pk
    exported = AuditLog.objects.for_tenant(tenant).filter(action="customer.data_exported")
    assert list(exported.values_list("actor", flat=True)) == ["cli:gdpr_export"] * 2

    other = CompanyFactory()
    error = command_fails("gdpr_export", "--customer", str(erika.pk), "--tenant", str(other.pk))
    assert (error["type"], error["details"]) == ("RESOURCE_NOT_FOUND", {"customer_id": erika.pk})
    assert command_fails("gdpr_export", "--customer", "999999")["type"] == "RESOURCE_NOT_FOUND"


def test_gdpr_erase_command(tenant, erika, history):
    error = command_fails("gdpr_erase", "--customer", str(erika.pk))
    assert (error["type"], error["details"]) == (
        "VALIDATION_FAILED",
        {"yes": ["Required to erase without a prompt."]},
    )
    erika.refresh_from_db()
    assert erika.erased_at is None

    data = command("gdpr_erase", "--customer", str(erika.pk), "--yes")
    assert (data["customer_id"], data["already_erased"], data["call_logs_scrubbed"]) == (
        erika.pk,
        False,
        2,
    )
    erika.refresh_from_db()
    assert (erika.name, erika.phone) == ("", f"erased:{erika.pk}")
    assert AuditLog.objects.for_tenant(tenant).get(action="customer.erased").actor == (
        "cli:gdpr_erase"
    )
    out = StringIO()
    call_command("gdpr_erase", "--customer", str(erika.pk), "--yes", stdout=out)
    assert out.getvalue().startswith(f"Customer {erika.pk} was already erased")
