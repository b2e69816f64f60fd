"""The tenant.* operations, called through the orchestrator as every front door does."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection

from bookings.enums import AppointmentStatus
from bookings.models import Appointment
from mcp_core.auth import Principal
from mcp_core.models import AuditLog
from mcp_core.operations import iso, registry
from mcp_core.permissions import Role
from mcp_core.ratelimit import rate_limit_usage
from tenants import services
from tenants.enums import Plan, SubscriptionStatus
from tenants.errors import PlanLimitReached
from tenants.hours import default_business_hours
from tenants.models import Branch, Company
from tenants.selectors import tenant_get
from tests.factories import (
    AppointmentFactory,
    BranchFactory,
    CompanyFactory,
    StaffFactory,
)
from tests.operations import failed, ok, principal_for

pytestmark = pytest.mark.django_db

TENANT_OPERATIONS = {
    "tenant.getTenant": "access-mcp",
    "tenant.updateTenant": "manage-company",
    "tenant.listBranches": "access-mcp",
    "tenant.getBranch": "access-mcp",
    "tenant.createBranch": "manage-branches",
    "tenant.updateBranch": "manage-branches",
    "tenant.activateBranch": "manage-branches",
    "tenant.deactivateBranch": "manage-branches",
    "tenant.getTenantSettings": "access-mcp",
    "tenant.updateTenantSettings": "manage-company",
    "tenant.getTenantQuota": "access-mcp",
    "tenant.validateTenantAccess": "access-mcp",
    "tenant.getFeatureFlags": "access-mcp",
}


# ----------------------------------------------------------------------------------- helpers


def audit_rows(tenant: Company) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        (row.action, row.object_type, row.object_id, row.changes)
        for row in AuditLog.objects.for_tenant(tenant).order_by("pk")
    ]


def branch_json(branch: Branch) -> dict[str, Any]:
    branch.refresh_from_db()
    return {
        "id": branch.pk,
        "uuid": str(branch.uuid),
        "name": branch.name,
        "address": branch.address,
        "postal_code": branch.postal_code,
        "city": branch.city,
        "country": branch.country,
        "phone": branch.phone,
        "email": branch.email,
        "latitude": float(branch.latitude) if branch.latitude is not None else None,
        "longitude": float(branch.longitude) if branch.longitude is not None else None,
        "time_zone": branch.time_zone,
        "business_hours": branch.business_hours,
        "is_active": branch.is_active,
        "settings": branch.settings,
        "created_at": iso(branch.created_at),
        "updated_at": iso(branch.updated_at),
    }


@pytest.fixture
def tenant() -> Company:
    return CompanyFactory(
        name="Salon Sonnenschein",
        slug="salon-sonnenschein",
        email="info@sonnenschein.example",
        phone="+49301234567",
        subscription__features={"sms": True},
    )


@pytest.fixture
def owner(tenant: Company) -> Principal:
    return principal_for(tenant)


@pytest.fixture
def other_tenant() -> Company:
    return CompanyFactory(name="Werkstatt Nord")


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run on-commit callbacks (the cache clears) as a real commit would."""

    def capture() -> Any:
        return django_capture_on_commit_callbacks(execute=True)

    return capture


# ---------------------------------------------------------------------------------- registry


def test_the_registry_holds_exactly_the_thirteen_tenant_operations():
    tenant_ops = {op.name: op for op in registry if op.service == "tenant"}
    assert {name: str(op.permission) for name, op in tenant_ops.items()} == TENANT_OPERATIONS
    for op in tenant_ops.values():
        schema = op.input_schema()
        assert schema["type"] == "object", op.name
        assert schema["additionalProperties"] is False, op.name
        assert op.output_schema()["type"] == "object", op.name
        assert op.description, op.name
    read_only = {name for name, op in tenant_ops.items() if op.read_only}
    assert read_only == {
        "tenant.getTenant",
        "tenant.listBranches",
        "tenant.getBranch",
        "tenant.getTenantSettings",
        "tenant.getTenantQuota",
        "tenant.validateTenantAccess",
        "tenant.getFeatureFlags",
    }


def test_every_input_field_is_described():
    for op in registry:
        if op.service != "tenant":
            continue
        for field, spec in op.input_schema().get("properties", {}).items():
            assert spec.get("description"), f"{op.name}.{field}"


def test_update_inputs_show_fields_as_their_type_without_a_fake_default():
    props = registry.get("tenant.updateBranch").input_schema()["properties"]
    assert props["name"]["type"] == "string"
    assert "default" not in props["name"]
    assert "default" not in props["latitude"]
    assert registry.get("tenant.updateBranch").input_schema()["required"] == ["branch_id"]


# ---------------------------------------------------------------------------------- getTenant


def test_get_tenant_returns_profile_subscription_limits_and_branches(tenant, owner):
    berlin = BranchFactory(tenant=tenant, name="Berlin Mitte", city="Berlin")
    hamburg = BranchFactory(tenant=tenant, name="Hamburg", city="Hamburg", is_active=False)
    BranchFactory(tenant=CompanyFactory(), name="Fremd")
    tenant.refresh_from_db()

    data = ok(owner, "tenant.getTenant")

    assert data == {
        "tenant": {
            "id": tenant.pk,
            "name": "Salon Sonnenschein",
            "slug": "salon-sonnenschein",
            "email": "info@sonnenschein.example",
            "phone": "+49301234567",
            "time_zone": "Europe/Berlin",
            "default_language": "de",
            "is_active": True,
            "created_at": iso(tenant.created_at),
            "updated_at": iso(tenant.updated_at),
        },
        "subscription": {
            "plan": "professional",
            "status": "active",
            "effective_plan": "professional",
            "current_period_end": None,
            "features": {
                "multi_branch": True,
                "advanced_analytics": True,
                "custom_branding": False,
                "api_access": True,
                "graphql_api": True,
                "federation": True,
                "calendar_sync": True,
                "sms_notifications": True,
                "whatsapp_integration": False,
            },
        },
        "limits": {
            "branches": 5,
            "staff_per_branch": 20,
            "monthly_bookings": 5000,
            "api_calls_per_hour": 1000,
        },
        "branches": {
            "total": 2,
            "active": 1,
            "items": [
                {"id": berlin.pk, "name": "Berlin Mitte", "city": "Berlin", "is_active": True},
                {"id": hamburg.pk, "name": "Hamburg", "city": "Hamburg", "is_active": False},
            ],
        },
    }


def test_a_lapsed_subscription_gets_basic_limits_and_features():
    tenant = CompanyFactory(subscription__status=SubscriptionStatus.PAST_DUE)
    data = ok(principal_for(tenant), "tenant.getTenant")
    assert data["subscription"]["plan"] == "professional"
    assert data["subscription"]["status"] == "past_due"
    assert data["subscription"]["effective_plan"] == "basic"
    assert data["subscription"]["features"]["multi_branch"] is False
    assert data["limits"] == {
        "branches": 1,
        "staff_per_branch": 5,
        "monthly_bookings": 500,
        "api_calls_per_hour": 100,
    }


def test_get_tenant_is_cached_as_plain_json(tenant, owner, django_assert_num_queries):
    first = ok(owner, "tenant.getTenant")
    cached = cache.get(f"tenant:{tenant.pk}")
    assert json.loads(json.dumps(cached)) == first
    # A write that bypasses the services is not seen until the entry expires.
    Company.objects.filter(pk=tenant.pk).update(name="Behind the cache's back")
    with django_assert_num_queries(0):
        assert ok(owner, "tenant.getTenant") == first


def test_get_tenant_cache_is_per_tenant(tenant, owner, other_tenant):
    ok(owner, "tenant.getTenant")
    data = ok(principal_for(other_tenant), "tenant.getTenant")
    assert data["tenant"]["id"] == other_tenant.pk
    assert data["tenant"]["name"] == "Werkstatt Nord"


def test_update_tenant_clears_the_cache_after_commit(owner, on_commit):
    assert ok(owner, "tenant.getTenant")["tenant"]["name"] == "Salon Sonnenschein"
    with on_commit() as callbacks:
        ok(owner, "tenant.updateTenant", {"name": "Salon Mondschein"})
    assert len(callbacks) == 1
    assert ok(owner, "tenant.getTenant")["tenant"]["name"] == "Salon Mondschein"


def test_create_branch_clears_the_cache_after_commit(owner, on_commit):
    assert ok(owner, "tenant.getTenant")["branches"]["total"] == 0
    with on_commit():
        branch = ok(owner, "tenant.createBranch", {"name": "Potsdam"})["branch"]
    overview = ok(owner, "tenant.getTenant")
    assert overview["branches"]["items"] == [
        {"id": branch["id"], "name": "Potsdam", "city": "", "is_active": False}
    ]


def test_branch_and_settings_writes_clear_the_cache(tenant, owner, on_commit):
    branch = BranchFactory(tenant=tenant, name="Berlin", is_active=False)
    ok(owner, "tenant.getTenant")
    with on_commit():
        ok(owner, "tenant.activateBranch", {"branch_id": branch.pk})
    assert ok(owner, "tenant.getTenant")["branches"]["active"] == 1
    with on_commit():
        ok(owner, "tenant.updateBranch", {"branch_id": branch.pk, "city": "Potsdam"})
    assert ok(owner, "tenant.getTenant")["branches"]["items"][0]["city"] == "Potsdam"
    with on_commit():
        ok(owner, "tenant.deactivateBranch", {"branch_id": branch.pk})
    assert ok(owner, "tenant.getTenant")["branches"]["active"] == 0
    with on_commit() as callbacks:
        ok(owner, "tenant.updateTenantSettings", {"settings": {"greeting": "Hallo"}})
    assert len(callbacks) == 1
    assert cache.get(f"tenant:{tenant.pk}") is None


def test_a_write_that_changes_nothing_keeps_the_cache(tenant, owner, on_commit):
    ok(owner, "tenant.getTenant")
    with on_commit() as callbacks:
        ok(owner, "tenant.updateTenant", {"name": "Salon Sonnenschein"})
    assert callbacks == []
    assert cache.get(f"tenant:{tenant.pk}") is not None
    assert audit_rows(tenant) == []


# ------------------------------------------------------------------------------- updateTenant


def test_update_tenant_changes_the_given_fields_and_writes_an_audit_row(tenant, owner):
    data = ok(
        owner,
        "tenant.updateTenant",
        {
            "name": "  Salon Mondschein ",
            "phone": "040 1234567",
            "default_language": "en",
            "time_zone": "Europe/Vienna",
        },
    )

    tenant.refresh_from_db()
    assert (tenant.name, tenant.phone, tenant.default_language, tenant.time_zone) == (
        "Salon Mondschein",
        "+49401234567",
        "en",
        "Europe/Vienna",
    )
    assert tenant.email == "info@sonnenschein.example"
    assert data == {
        "tenant": {
            "id": tenant.pk,
            "name": "Salon Mondschein",
            "slug": "salon-sonnenschein",
            "email": "info@sonnenschein.example",
            "phone": "+49401234567",
            "time_zone": "Europe/Vienna",
            "default_language": "en",
            "is_active": True,
            "created_at": iso(tenant.created_at),
            "updated_at": iso(tenant.updated_at),
        }
    }
    assert audit_rows(tenant) == [
        (
            "tenant.updated",
            "tenants.company",
            str(tenant.pk),
            {
                "name": ["Salon Sonnenschein", "Salon Mondschein"],
                "phone": ["+49301234567", "+49401234567"],
                "default_language": ["de", "en"],
                "time_zone": ["Europe/Berlin", "Europe/Vienna"],
            },
        )
    ]
    assert AuditLog.objects.for_tenant(tenant).get().actor == owner.actor


def test_update_tenant_clears_email_and_phone_with_empty_strings(tenant, owner):
    ok(owner, "tenant.updateTenant", {"email": "", "phone": ""})
    tenant.refresh_from_db()
    assert (tenant.email, tenant.phone) == ("", "")


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        ({"phone": "12"}, "phone", None),
        ({"phone": "abc"}, "phone", None),
        ({"time_zone": "Europe/Atlantis"}, "time_zone", None),
        ({"email": "not-an-address"}, "email", "Enter a valid e-mail address."),
        ({"name": "   "}, "name", None),
        ({"name": None}, "name", "May not be null; leave the field out to keep its value."),
        ({"default_language": "Deutsch"}, "default_language", None),
        ({"plan": "enterprise"}, "plan", "Unknown field."),
        ({"name": "x" * 201}, "name", None),
    ],
)
def test_update_tenant_refuses_invalid_fields_and_writes_nothing(
    tenant, owner, args, field, message
):
    error_type, details = failed(owner, "tenant.updateTenant", {"email": "new@x.example", **args})
    assert error_type == "VALIDATION_FAILED"
    assert list(details) == [field]
    if message is not None:
        assert details[field] == [message]
    tenant.refresh_from_db()
    assert tenant.email == "info@sonnenschein.example"
    assert audit_rows(tenant) == []


def test_update_tenant_reports_every_invalid_field_at_once(tenant, owner):
    error_type, details = failed(
        owner, "tenant.updateTenant", {"phone": "12", "time_zone": "Mars/Olympus"}
    )
    assert error_type == "VALIDATION_FAILED"
    assert details == {
        "phone": [
            "'12' is not a valid phone number; use E.164 (+4930…) or a German number (030 …)."
        ],
        "time_zone": ["'Mars/Olympus' is not an IANA time zone such as 'Europe/Berlin'."],
    }


# -------------------------------------------------------------------------------- permissions


def test_readonly_keys_can_read_but_not_write(tenant):
    branch = BranchFactory(tenant=tenant, name="Berlin")
    readonly = principal_for(tenant, Role.READONLY)
    for name, args in [
        ("tenant.getTenant", {}),
        ("tenant.listBranches", {}),
        ("tenant.getBranch", {"branch_id": branch.pk}),
        ("tenant.getTenantSettings", {}),
        ("tenant.getTenantQuota", {}),
        ("tenant.validateTenantAccess", {}),
    ]:
        ok(readonly, name, args)

    error_type, details = failed(readonly, "tenant.updateTenant", {"name": "Gekapert"})
    assert error_type == "PERMISSION_DENIED"
    assert details == {"required_permission": "manage-company", "role": "readonly"}
    for name, args in [
        ("tenant.createBranch", {"name": "Neu"}),
        ("tenant.updateBranch", {"branch_id": branch.pk, "name": "Neu"}),
        ("tenant.deactivateBranch", {"branch_id": branch.pk}),
        ("tenant.updateTenantSettings", {"settings": {"a": 1}}),
    ]:
        assert failed(readonly, name, args)[0] == "PERMISSION_DENIED", name

    tenant.refresh_from_db()
    assert (tenant.name, tenant.settings) == ("Salon Sonnenschein", {})
    assert list(Branch.objects.for_tenant(tenant).values_list("name", "is_active")) == [
        ("Berlin", True)
    ]
    assert audit_rows(tenant) == []


def test_managers_manage_branches_but_not_the_company(tenant):
    manager = principal_for(tenant, Role.MANAGER)
    ok(manager, "tenant.createBranch", {"name": "Berlin"})
    assert failed(manager, "tenant.updateTenant", {"name": "X"})[0] == "PERMISSION_DENIED"
    assert failed(manager, "tenant.updateTenantSettings", {"settings": {}})[0] == (
        "PERMISSION_DENIED"
    )
    staff = principal_for(tenant, Role.STAFF)
    assert failed(staff, "tenant.createBranch", {"name": "Hamburg"})[0] == "PERMISSION_DENIED"
    assert Branch.objects.for_tenant(tenant).count() == 1


# ------------------------------------------------------------------------------ listBranches


def test_list_branches_filters_and_pages(tenant, owner, other_tenant):
    mitte = BranchFactory(tenant=tenant, name="Berlin Mitte", city="Berlin")
    BranchFactory(tenant=tenant, name="Charlottenburg", city="Berlin", is_active=False)
    hamburg = BranchFactory(tenant=tenant, name="Hamburg", city="Hamburg")
    BranchFactory(tenant=other_tenant, name="Alster", city="Hamburg")

    everything = ok(owner, "tenant.listBranches")
    assert [b["name"] for b in everything["branches"]] == [
        "Berlin Mitte",
        "Charlottenburg",
        "Hamburg",
    ]
    assert (everything["count"], everything["page"], everything["next_page"]) == (3, 1, None)
    assert everything["branches"][0] == branch_json(mitte)

    active = ok(owner, "tenant.listBranches", {"active": True})
    assert [b["id"] for b in active["branches"]] == [mitte.pk, hamburg.pk]
    inactive = ok(owner, "tenant.listBranches", {"active": False})
    assert [b["name"] for b in inactive["branches"]] == ["Charlottenburg"]
    in_berlin = ok(owner, "tenant.listBranches", {"city": "bERL"})
    assert [b["name"] for b in in_berlin["branches"]] == ["Berlin Mitte", "Charlottenburg"]
    active_in_berlin = ok(owner, "tenant.listBranches", {"city": "berlin", "active": True})
    assert active_in_berlin["count"] == 1

    first = ok(owner, "tenant.listBranches", {"page_size": 2})
    assert ([b["name"] for b in first["branches"]], first["count"], first["next_page"]) == (
        ["Berlin Mitte", "Charlottenburg"],
        3,
        2,
    )
    second = ok(owner, "tenant.listBranches", {"page_size": 2, "page": 2})
    assert ([b["name"] for b in second["branches"]], second["page"], second["next_page"]) == (
        ["Hamburg"],
        2,
        None,
    )
    beyond = ok(owner, "tenant.listBranches", {"page_size": 2, "page": 3})
    assert (beyond["branches"], beyond["count"], beyond["next_page"]) == ([], 3, None)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"active": "maybe"}, "active"),
        ({"filters": {"city": "Berlin"}}, "filters"),
    ],
)
def test_list_branches_refuses_invalid_arguments(owner, args, field):
    error_type, details = failed(owner, "tenant.listBranches", args)
    assert error_type == "VALIDATION_FAILED"
    assert list(details) == [field]


# --------------------------------------------------------------------------------- getBranch


def test_get_branch_returns_the_whole_branch(tenant, owner):
    branch = BranchFactory(
        tenant=tenant,
        name="Berlin Mitte",
        address="Torstraße 1",
        postal_code="10119",
        phone="+49301234567",
        email="mitte@sonnenschein.example",
        settings={"slot_interval_minutes": 15},
    )
    data = ok(owner, "tenant.getBranch", {"branch_id": branch.pk})
    assert data == {
        "branch": {
            "id": branch.pk,
            "uuid": str(branch.uuid),
            "name": "Berlin Mitte",
            "address": "Torstraße 1",
            "postal_code": "10119",
            "city": "Berlin",
            "country": "DE",
            "phone": "+49301234567",
            "email": "mitte@sonnenschein.example",
            "latitude": 52.520008,
            "longitude": 13.404954,
            "time_zone": "Europe/Berlin",
            "business_hours": default_business_hours(),
            "is_active": True,
            "settings": {"slot_interval_minutes": 15},
            "created_at": iso(branch.created_at),
            "updated_at": iso(branch.updated_at),
        }
    }


def test_get_branch_of_another_tenant_or_missing_is_not_found(owner, other_tenant):
    foreign = BranchFactory(tenant=other_tenant)
    for branch_id in (foreign.pk, foreign.pk + 1000):
        error_type, details = failed(owner, "tenant.getBranch", {"branch_id": branch_id})
        assert (error_type, details) == ("RESOURCE_NOT_FOUND", {"branch_id": branch_id})


# ------------------------------------------------------------------------------ createBranch


def test_create_branch_starts_inactive_with_defaults_and_an_audit_row(tenant, owner):
    data = ok(
        owner,
        "tenant.createBranch",
        {
            "name": "Hamburg Altona",
            "address": "Ottenser Hauptstraße 10",
            "postal_code": "22765",
            "city": "Hamburg",
            "country": "de",
            "phone": "040 1234567",
            "email": "altona@sonnenschein.example",
            "latitude": 53.5511,
            "longitude": 9.9937,
            "settings": {"min_notice_minutes": 120, "parking": "Hof"},
        },
    )

    branch = Branch.objects.for_tenant(tenant).get()
    assert data == {"branch": branch_json(branch)}
    assert data["branch"] | {"id": 0, "uuid": "", "created_at": "", "updated_at": ""} == {
        "id": 0,
        "uuid": "",
        "name": "Hamburg Altona",
        "address": "Ottenser Hauptstraße 10",
        "postal_code": "22765",
        "city": "Hamburg",
        "country": "DE",
        "phone": "+49401234567",
        "email": "altona@sonnenschein.example",
        "latitude": 53.5511,
        "longitude": 9.9937,
        "time_zone": "Europe/Berlin",
        "business_hours": default_business_hours(),
        "is_active": False,
        "settings": {"slot_interval_minutes": 30, "min_notice_minutes": 120, "parking": "Hof"},
        "created_at": "",
        "updated_at": "",
    }
    assert branch.latitude == Decimal("53.551100")
    [(action, object_type, object_id, changes)] = audit_rows(tenant)
    assert (action, object_type, object_id) == ("branch.created", "tenants.branch", str(branch.pk))
    assert changes["name"] == "Hamburg Altona"
    assert changes["is_active"] is False
    assert changes["latitude"] == 53.5511


def test_create_branch_takes_the_tenant_time_zone_and_given_hours(tenant, owner):
    Company.objects.filter(pk=tenant.pk).update(time_zone="Europe/Vienna")
    tenant.refresh_from_db()
    owner = principal_for(tenant)
    hours = {"monday": {"open": "08:00", "close": "12:30"}}
    data = ok(owner, "tenant.createBranch", {"name": "Wien", "business_hours": hours})
    assert data["branch"]["time_zone"] == "Europe/Vienna"
    closed = {"open": None, "close": None, "is_open": False}
    assert data["branch"]["business_hours"] == {
        "monday": {"open": "08:00", "close": "12:30", "is_open": True},
        "tuesday": closed,
        "wednesday": closed,
        "thursday": closed,
        "friday": closed,
        "saturday": closed,
        "sunday": closed,
    }


@pytest.mark.parametrize(
    ("args", "details"),
    [
        ({"name": ""}, {"name": ["String should have at least 1 character"]}),
        ({"name": None}, {"name": ["Input should be a valid string"]}),
        (
            {"time_zone": "Berlin"},
            {"time_zone": ["'Berlin' is not an IANA time zone such as 'Europe/Berlin'."]},
        ),
        ({"latitude": 90.5}, {"latitude": ["Input should be less than or equal to 90"]}),
        ({"longitude": -180.1}, {"longitude": ["Input should be greater than or equal to -180"]}),
        ({"country": "DEU"}, {"country": ["String should match pattern '^[A-Za-z]{2}$'"]}),
        ({"email": "altona"}, {"email": ["Enter a valid e-mail address."]}),
        (
            {"phone": "0"},
            {
                "phone": [
                    "'0' is not a phone number; use E.164 (+4930…) or a German number (030 …)."
                ]
            },
        ),
        (
            {"business_hours": {"monday": {"open": "18:00", "close": "09:00"}, "funday": {}}},
            {
                "business_hours.monday": ["Value error, 'close' must be after 'open'"],
                "business_hours.funday": ["Extra inputs are not permitted"],
            },
        ),
        (
            {"business_hours": {"tuesday": {"open": "9", "close": "17:00"}}},
            {"business_hours.tuesday.open": ["Value error, '9' is not a time as HH:MM"]},
        ),
        ({"business_hours": []}, {"business_hours": ["Input should be a valid dictionary"]}),
        (
            {"settings": {"k" * 65: 1}},
            {"settings": [f"Keys may be at most 64 characters: '{'k' * 20}…'"]},
        ),
        ({"is_active": True}, {"is_active": ["Unknown field."]}),
    ],
)
def test_create_branch_refuses_invalid_fields_and_writes_nothing(tenant, owner, args, details):
    error_type, got = failed(owner, "tenant.createBranch", {"name": "Altona", **args})
    assert (error_type, got) == ("VALIDATION_FAILED", details)
    assert Branch.objects.for_tenant(tenant).count() == 0
    assert audit_rows(tenant) == []


def test_create_branch_reports_service_level_errors_together(owner):
    error_type, details = failed(
        owner,
        "tenant.createBranch",
        {"name": "Altona", "time_zone": "Nowhere", "phone": "1", "email": "x"},
    )
    assert error_type == "VALIDATION_FAILED"
    assert sorted(details) == ["email", "phone", "time_zone"]


def test_basic_plan_allows_one_branch(tenant):
    tenant.subscription.plan = Plan.BASIC
    tenant.subscription.save()
    BranchFactory(tenant=tenant, name="Berlin")
    owner = principal_for(tenant)

    error_type, details = failed(owner, "tenant.createBranch", {"name": "Hamburg"})

    assert (error_type, details) == (
        "TENANT_QUOTA_EXCEEDED",
        {"quota": "branches", "plan": "basic", "limit": 1, "used": 1},
    )
    assert list(Branch.objects.for_tenant(tenant).values_list("name", flat=True)) == ["Berlin"]
    assert audit_rows(tenant) == []


def test_a_lapsed_professional_plan_falls_back_to_one_branch(tenant):
    tenant.subscription.status = SubscriptionStatus.CANCELED
    tenant.subscription.save()
    BranchFactory(tenant=tenant)
    error_type, details = failed(principal_for(tenant), "tenant.createBranch", {"name": "Zwei"})
    assert (error_type, details) == (
        "TENANT_QUOTA_EXCEEDED",
        {"quota": "branches", "plan": "basic", "limit": 1, "used": 1},
    )


def test_inactive_branches_count_towards_the_limit_and_enterprise_is_unlimited(tenant):
    BranchFactory.create_batch(5, tenant=tenant, is_active=False)
    owner = principal_for(tenant)
    assert failed(owner, "tenant.createBranch", {"name": "Sechs"}) == (
        "TENANT_QUOTA_EXCEEDED",
        {"quota": "branches", "plan": "professional", "limit": 5, "used": 5},
    )
    tenant.subscription.plan = Plan.ENTERPRISE
    tenant.subscription.save()
    ok(principal_for(tenant), "tenant.createBranch", {"name": "Sechs"})
    assert Branch.objects.for_tenant(tenant).count() == 6


def test_create_branch_refuses_a_duplicate_name_in_any_case(tenant, owner, other_tenant):
    BranchFactory(tenant=tenant, name="Berlin Mitte")
    BranchFactory(tenant=other_tenant, name="Hamburg")

    error_type, details = failed(owner, "tenant.createBranch", {"name": "BERLIN mitte"})

    assert (error_type, details) == (
        "CONFLICT",
        {"name": ["A branch with this name already exists."]},
    )
    assert Branch.objects.for_tenant(tenant).count() == 1
    assert audit_rows(tenant) == []
    # Another tenant's names do not matter.
    ok(owner, "tenant.createBranch", {"name": "Hamburg"})


def test_a_duplicate_that_slips_past_the_check_is_still_a_conflict(tenant, owner, monkeypatch):
    BranchFactory(tenant=tenant, name="Berlin")
    real_check = services._ensure_name_free
    calls: list[str] = []

    def racing_check(tenant: Company, name: str, *, exclude_pk: int | None) -> None:
        # The first check runs before the concurrent insert commits; the constraint catches it.
        calls.append(name)
        if len(calls) > 1:
            real_check(tenant, name, exclude_pk=exclude_pk)

    monkeypatch.setattr(services, "_ensure_name_free", racing_check)
    error_type, _ = failed(owner, "tenant.createBranch", {"name": "berlin"})
    assert error_type == "CONFLICT"
    assert calls == ["berlin", "berlin"]
    assert Branch.objects.for_tenant(tenant).count() == 1
    assert audit_rows(tenant) == []


# ------------------------------------------------------------------------------ updateBranch


def test_update_branch_changes_only_the_given_fields(tenant, owner):
    branch = BranchFactory(
        tenant=tenant,
        name="Berlin",
        address="Torstraße 1",
        settings={"slot_interval_minutes": 30, "legacy": True},
    )
    before = branch_json(branch)

    data = ok(
        owner,
        "tenant.updateBranch",
        {
            "branch_id": branch.pk,
            "name": "Berlin Mitte",
            "latitude": None,
            "settings": {"legacy": None, "min_notice_minutes": 90},
        },
    )

    after = branch_json(branch)
    assert data == {"branch": after}
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {"name", "latitude", "settings", "updated_at"}
    assert (after["name"], after["latitude"], after["longitude"]) == (
        "Berlin Mitte",
        None,
        13.404954,
    )
    assert after["settings"] == {"slot_interval_minutes": 30, "min_notice_minutes": 90}
    assert audit_rows(tenant) == [
        (
            "branch.updated",
            "tenants.branch",
            str(branch.pk),
            {
                "name": ["Berlin", "Berlin Mitte"],
                "latitude": [52.520008, None],
                "settings": [
                    {"slot_interval_minutes": 30, "legacy": True},
                    {"slot_interval_minutes": 30, "min_notice_minutes": 90},
                ],
            },
        )
    ]


def test_update_branch_replaces_business_hours_and_may_recase_its_own_name(tenant, owner):
    branch = BranchFactory(tenant=tenant, name="berlin")
    sunday = {"sunday": {"open": "10:00", "close": "16:00", "is_open": True}}
    data = ok(
        owner,
        "tenant.updateBranch",
        {"branch_id": branch.pk, "name": "Berlin", "business_hours": sunday},
    )
    assert data["branch"]["name"] == "Berlin"
    assert data["branch"]["business_hours"]["sunday"] == sunday["sunday"]
    assert data["branch"]["business_hours"]["monday"]["is_open"] is False


@pytest.mark.parametrize(
    ("args", "error_type", "fields"),
    [
        ({"name": None}, "VALIDATION_FAILED", ["name"]),
        ({"name": "Hamburg"}, "CONFLICT", ["name"]),
        ({"time_zone": "CET+1"}, "VALIDATION_FAILED", ["time_zone"]),
        ({"latitude": -91}, "VALIDATION_FAILED", ["latitude"]),
        ({"business_hours": None}, "VALIDATION_FAILED", ["business_hours"]),
        (
            {"business_hours": {"monday": {"is_open": True}}},
            "VALIDATION_FAILED",
            ["business_hours.monday"],
        ),
        ({"settings": {str(n): n for n in range(99)}}, "VALIDATION_FAILED", ["settings"]),
        ({"uuid": "x"}, "VALIDATION_FAILED", ["uuid"]),
    ],
)
def test_update_branch_refuses_invalid_changes_and_writes_nothing(
    tenant, owner, args, error_type, fields
):
    branch = BranchFactory(tenant=tenant, name="Berlin", settings={"a": 1, "b": 2})
    BranchFactory(tenant=tenant, name="hamburg")
    before = branch_json(branch)
    got_type, details = failed(owner, "tenant.updateBranch", {"branch_id": branch.pk, **args})
    assert (got_type, list(details)) == (error_type, fields)
    assert branch_json(branch) == before
    assert audit_rows(tenant) == []


def test_tenants_cannot_touch_each_others_branches(tenant, owner, other_tenant):
    foreign = BranchFactory(tenant=other_tenant, name="Alster", is_active=True)
    before = branch_json(foreign)
    for name, args in [
        ("tenant.getBranch", {}),
        ("tenant.updateBranch", {"name": "Gekapert", "settings": {"x": 1}}),
        ("tenant.deactivateBranch", {}),
        ("tenant.activateBranch", {}),
    ]:
        error_type, details = failed(owner, name, {"branch_id": foreign.pk, **args})
        assert (error_type, details) == ("RESOURCE_NOT_FOUND", {"branch_id": foreign.pk}), name
    assert branch_json(foreign) == before
    assert AuditLog.objects.all_tenants().count() == 0


# -------------------------------------------------------------------- activate / deactivate


def test_activate_and_deactivate_a_branch(tenant, owner):
    branch = BranchFactory(tenant=tenant, is_active=False)

    activated = ok(owner, "tenant.activateBranch", {"branch_id": branch.pk})
    assert activated["branch"]["is_active"] is True
    again = ok(owner, "tenant.activateBranch", {"branch_id": branch.pk})
    assert again["branch"]["is_active"] is True
    deactivated = ok(owner, "tenant.deactivateBranch", {"branch_id": branch.pk})
    assert deactivated == {"branch": branch_json(branch)}
    assert deactivated["branch"]["is_active"] is False

    assert audit_rows(tenant) == [
        ("branch.activated", "tenants.branch", str(branch.pk), {"is_active": [False, True]}),
        ("branch.deactivated", "tenants.branch", str(branch.pk), {"is_active": [True, False]}),
    ]


# ------------------------------------------------------------------------------- settings


def test_tenant_settings_are_merged_and_null_removes_a_key(tenant, owner):
    Company.objects.filter(pk=tenant.pk).update(settings={"greeting": "Hallo", "legacy": 1})
    assert ok(owner, "tenant.getTenantSettings") == {"settings": {"greeting": "Hallo", "legacy": 1}}

    data = ok(
        owner,
        "tenant.updateTenantSettings",
        {"settings": {"legacy": None, "reminder_hours": [24, 2], "missing": None}},
    )

    expected = {"greeting": "Hallo", "reminder_hours": [24, 2]}
    assert data == {"settings": expected}
    assert ok(owner, "tenant.getTenantSettings") == {"settings": expected}
    tenant.refresh_from_db()
    assert tenant.settings == expected
    assert audit_rows(tenant) == [
        (
            "tenant.settings_updated",
            "tenants.company",
            str(tenant.pk),
            {"legacy": [1, None], "reminder_hours": [None, [24, 2]]},
        )
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({str(n): n for n in range(101)}, "At most 100 keys; this would be 101."),
        ({"x" * 65: 1}, f"Keys may be at most 64 characters: '{'x' * 20}…'"),
        ({"": 1}, "Keys must be non-empty strings."),
        ({"blob": "x" * 16_400}, "At most 16384 bytes of JSON; this would be 16411."),
    ],
)
def test_update_tenant_settings_enforces_the_limits(tenant, owner, settings, message):
    error_type, details = failed(owner, "tenant.updateTenantSettings", {"settings": settings})
    assert (error_type, details) == ("VALIDATION_FAILED", {"settings": [message]})
    tenant.refresh_from_db()
    assert tenant.settings == {}
    assert audit_rows(tenant) == []


def test_the_key_limit_counts_existing_keys(tenant, owner):
    Company.objects.filter(pk=tenant.pk).update(settings={str(n): n for n in range(100)})
    assert failed(owner, "tenant.updateTenantSettings", {"settings": {"new": 1}}) == (
        "VALIDATION_FAILED",
        {"settings": ["At most 100 keys; this would be 101."]},
    )
    ok(owner, "tenant.updateTenantSettings", {"settings": {"0": None, "new": 1}})


@pytest.mark.parametrize("settings", [[1, 2], "x", None])
def test_tenant_settings_must_be_an_object(tenant, owner, settings):
    error_type, details = failed(owner, "tenant.updateTenantSettings", {"settings": settings})
    assert error_type == "VALIDATION_FAILED"
    assert list(details) == ["settings"]
    tenant.refresh_from_db()
    assert tenant.settings == {}


# ------------------------------------------------------------------------------ quota


def test_get_tenant_quota_reports_limits_and_exact_usage(tenant):
    # 00:30 on 1 March in Berlin is still February in UTC: the month is the tenant's.
    now = dt.datetime(2027, 2, 28, 23, 30, tzinfo=dt.UTC)
    with time_machine.travel(now, tick=False):
        berlin = BranchFactory(tenant=tenant, name="Berlin")
        hamburg = BranchFactory(tenant=tenant, name="Hamburg", is_active=False)
        empty = BranchFactory(tenant=tenant, name="Leer")
        staff = StaffFactory.create_batch(3, branch=berlin)
        StaffFactory(branch=berlin, is_active=False)
        StaffFactory(branch=hamburg)
        StaffFactory.create_batch(7, branch=BranchFactory(tenant=CompanyFactory()))

        def booked(created: dt.datetime, staff_member: Any, **kwargs: Any) -> None:
            start = dt.datetime(2027, 3, 10, 9, tzinfo=dt.UTC) + dt.timedelta(
                hours=Appointment.objects.all_tenants().count()
            )
            appointment = AppointmentFactory(staff=staff_member, start_time=start, **kwargs)
            Appointment.objects.all_tenants().filter(pk=appointment.pk).update(created_at=created)

        booked(dt.datetime(2027, 2, 28, 23, 10, tzinfo=dt.UTC), staff[0])  # 1 March, 00:10
        booked(dt.datetime(2027, 2, 28, 23, 29, tzinfo=dt.UTC), staff[1])
        booked(
            dt.datetime(2027, 2, 28, 23, 20, tzinfo=dt.UTC),
            staff[2],
            status=AppointmentStatus.CANCELLED,
        )
        booked(dt.datetime(2027, 2, 28, 22, 50, tzinfo=dt.UTC), staff[0])  # 28 Feb, 23:50
        other_staff = StaffFactory(branch=BranchFactory(tenant=CompanyFactory()))
        booked(dt.datetime(2027, 2, 28, 23, 15, tzinfo=dt.UTC), other_staff)

        owner = principal_for(tenant)
        calls_before = rate_limit_usage(tenant_id=tenant.pk)
        ok(owner, "tenant.validateTenantAccess")
        ok(owner, "tenant.getTenant")
        data = ok(owner, "tenant.getTenantQuota")

    assert data == {
        "plan": "professional",
        "limits": {
            "branches": 5,
            "staff_per_branch": 20,
            "monthly_bookings": 5000,
            "api_calls_per_hour": 1000,
        },
        "usage": {
            "branches": 3,
            "max_staff_in_a_branch": 3,
            "staff_by_branch": [
                {"branch_id": berlin.pk, "staff": 3},
                {"branch_id": hamburg.pk, "staff": 1},
                {"branch_id": empty.pk, "staff": 0},
            ],
            "bookings_this_month": 3,
            "api_calls_this_hour": calls_before + 3,
        },
    }


def test_quota_of_an_empty_enterprise_tenant():
    tenant = CompanyFactory(subscription__plan=Plan.ENTERPRISE)
    data = ok(principal_for(tenant), "tenant.getTenantQuota")
    assert data["plan"] == "enterprise"
    assert data["limits"] == {
        "branches": -1,
        "staff_per_branch": -1,
        "monthly_bookings": -1,
        "api_calls_per_hour": 10000,
    }
    assert data["usage"] | {"api_calls_this_hour": 0} == {
        "branches": 0,
        "max_staff_in_a_branch": 0,
        "staff_by_branch": [],
        "bookings_this_month": 0,
        "api_calls_this_hour": 0,
    }


# -------------------------------------------------------------------- validateTenantAccess


@pytest.mark.parametrize(
    ("role", "permissions"),
    [
        (Role.READONLY, ["access-mcp"]),
        (
            Role.MANAGER,
            [
                "access-mcp",
                "cancel-bookings",
                "create-bookings",
                "manage-bookings",
                "manage-branches",
                "manage-customers",
                "manage-routing",
                "manage-staff",
                "view-integrations",
            ],
        ),
    ],
)
def test_validate_tenant_access_names_tenant_role_and_permissions(tenant, role, permissions):
    data = ok(principal_for(tenant, role), "tenant.validateTenantAccess")
    assert data == {
        "valid": True,
        "tenant_id": tenant.pk,
        "tenant_name": "Salon Sonnenschein",
        "role": str(role),
        "permissions": permissions,
    }


def test_validate_tenant_access_lists_every_permission_for_owners(tenant, owner):
    data = ok(owner, "tenant.validateTenantAccess", None)
    assert len(data["permissions"]) == 12
    assert data["permissions"] == sorted(data["permissions"])


def test_operations_without_arguments_refuse_unknown_ones(owner):
    error_type, details = failed(owner, "tenant.getTenant", {"tenant_id": 99})
    assert (error_type, details) == ("VALIDATION_FAILED", {"tenant_id": ["Unknown field."]})


# ------------------------------------------------------------------------------- races


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_cannot_both_take_the_last_branch_slot(monkeypatch):
    tenant = CompanyFactory(subscription__plan=Plan.BASIC)
    tenant = tenant_get(tenant_id=tenant.pk)
    first_counted = threading.Event()
    real_check = services._ensure_name_free

    def slow_check(tenant: Company, name: str, *, exclude_pk: int | None) -> None:
        # The first create holds its locks a while after counting; the second starts then.
        if name == "Erste":
            first_counted.set()
            time.sleep(0.5)
        real_check(tenant, name, exclude_pk=exclude_pk)

    monkeypatch.setattr(services, "_ensure_name_free", slow_check)
    outcomes: dict[str, str] = {}

    def create(name: str) -> None:
        try:
            services.branch_create(tenant=tenant, actor="test", name=name)
            outcomes[name] = "created"
        except PlanLimitReached:
            outcomes[name] = "limit"
        finally:
            connection.close()

    first = threading.Thread(target=create, args=("Erste",))
    first.start()
    assert first_counted.wait(5)
    second = threading.Thread(target=create, args=("Zweite",))
    second.start()
    first.join(10)
    second.join(10)

    assert outcomes == {"Erste": "created", "Zweite": "limit"}
    assert list(Branch.objects.for_tenant(tenant).values_list("name", flat=True)) == ["Erste"]
