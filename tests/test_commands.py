"""seed_demo, create_tenant, create_api_key through call_command, as an operator runs them."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from bookings.models import Appointment, Customer
from mcp_core.models import AuditLog
from mcp_core.permissions import Role
from routing.models import PhoneNumber
from staff.models import Service, Staff, StaffService, WorkingHours
from tenants.authentication import authenticate_api_key
from tenants.models import ApiKey, Branch, Company

pytestmark = pytest.mark.django_db


def _json(*args: str) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def _counts() -> dict[str, int]:
    models = (
        Company,
        Branch,
        Service,
        Staff,
        StaffService,
        WorkingHours,
        PhoneNumber,
        Customer,
        Appointment,
        ApiKey,
    )
    return {m.__name__: m._default_manager.count() for m in models}


def test_seed_demo_prints_the_contract_shape_and_a_working_key():
    result = _json("seed_demo")

    assert set(result) == {
        "tenant_id",
        "api_key",
        "branches",
        "services",
        "staff",
        "phone_numbers",
        "admin",
        "operator",
    }
    assert [b["name"] for b in result["branches"]] == ["Berlin Mitte", "Hamburg Altona"]
    assert len(result["staff"]) == 6
    assert {s["branch_id"] for s in result["staff"]} == {b["id"] for b in result["branches"]}
    assert result["services"][0] == {
        "id": result["services"][0]["id"],
        "name": "Damenhaarschnitt",
        "duration": 60,
    }
    assert [p["number"] for p in result["phone_numbers"]] == ["+493012345670", "+494012345670"]
    principal = authenticate_api_key(result["api_key"])
    assert principal.tenant.pk == result["tenant_id"]
    assert principal.tenant.name == "Salon Sonnenschein"
    assert principal.tenant.subscription.plan == "professional"
    assert principal.role == Role.OWNER


def test_seed_demo_is_idempotent():
    first = _json("seed_demo")
    counts = _counts()
    second = _json("seed_demo")

    assert second == first
    assert _counts() == counts
    assert counts["Company"] == 1 and counts["Staff"] == 6 and counts["Appointment"] == 3


def test_seed_demo_restores_a_revoked_demo_key():
    result = _json("seed_demo")
    ApiKey.objects.all_tenants().update(revoked_at="2026-01-01T00:00:00Z")
    _json("seed_demo")
    assert authenticate_api_key(result["api_key"]).tenant.pk == result["tenant_id"]


def test_seed_demo_data_passes_model_validation():
    _json("seed_demo")
    for model in (
        Company,
        Branch,
        Service,
        Staff,
        StaffService,
        WorkingHours,
        PhoneNumber,
        Customer,
    ):
        for obj in model._default_manager.all():
            obj.full_clean()


def test_seed_demo_users_can_log_into_the_admin(client):
    result = _json("seed_demo")
    for role in ("admin", "operator"):
        creds = result[role]
        assert client.login(username=creds["username"], password=creds["password"]), role
        response = client.get("/admin/bookings/appointment/")
        assert response.status_code == 200
        assert len(response.context["cl"].queryset) == 3
        client.logout()


def test_create_tenant_prints_id_and_owner_key():
    result = _json("create_tenant", "Friseur Müller", "--plan", "basic")

    company = Company.objects.get(pk=result["tenant_id"])
    assert company.name == "Friseur Müller"
    assert company.subscription.plan == "basic"
    principal = authenticate_api_key(result["api_key"])
    assert (principal.tenant, principal.role) == (company, Role.OWNER)
    assert list(
        AuditLog.objects.all_tenants()
        .filter(tenant=company)
        .values_list("action", flat=True)
        .order_by("id")
    ) == ["tenant.created", "api_key.created"]


def test_create_tenant_refuses_a_blank_name_and_writes_nothing():
    out = StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("create_tenant", "  ", "--plan", "basic", "--json", stdout=out)
    assert exc.value.code == 1
    error = json.loads(out.getvalue())["error"]
    assert (error["type"], error["code"]) == ("VALIDATION_FAILED", 1001)
    assert error["details"] == {"name": ["A tenant needs a name."]}
    assert Company.objects.count() == 0


def test_create_tenant_rejects_unknown_plan():
    with pytest.raises(CommandError, match="invalid choice: 'gold'"):
        call_command("create_tenant", "X", "--plan", "gold")
    assert Company.objects.count() == 0


def test_create_api_key_prints_key_and_prefix_and_stores_only_a_hash():
    tenant_id = _json("create_tenant", "Werkstatt Schulz", "--plan", "enterprise")["tenant_id"]
    result = _json("create_api_key", "--tenant", str(tenant_id), "--role", "readonly")

    assert set(result) == {"api_key", "prefix", "toolsets"}
    key = ApiKey.objects.all_tenants().get(prefix=result["prefix"])
    assert key.role == "readonly"
    assert result["api_key"] not in key.key_hash and len(key.key_hash) == 64
    assert authenticate_api_key(result["api_key"]).role == "readonly"


def test_create_api_key_for_unknown_tenant_is_not_found():
    with pytest.raises(CommandError, match="Tenant not found"):
        call_command("create_api_key", "--tenant", "999", "--role", "owner")
    assert ApiKey.objects.all_tenants().count() == 0


def test_human_output_of_create_tenant():
    out = StringIO()
    call_command("create_tenant", "Praxis Dr. Lang", "--plan", "professional", stdout=out)
    assert "Owner API key (shown once, store it now): apk_" in out.getvalue()
