"""An API key's configured toolsets: chosen by `manage.py create_api_key --toolsets` or in the
admin, listed by `/mcp` when the client names none; the client's own choice still wins."""

import json
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse

from mcp_core.models import AuditLog
from tenants.models import ApiKey
from tests.factories import ApiKeyFactory, CompanyFactory, OperatorProfileFactory

pytestmark = pytest.mark.django_db


def _services(client, token, **headers):
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    names, cursor = [], None
    while True:
        response = client.post(
            "/mcp",
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/list",
                    "params": {"cursor": cursor} if cursor else {},
                }
            ),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_MCP_PROTOCOL_VERSION="2025-11-25",
            **extra,
        )
        assert response.status_code == 200, response.content
        result = response.json()["result"]
        names += [tool["name"] for tool in result["tools"]]
        cursor = result.get("nextCursor")
        if cursor is None:
            return {name.split("_")[0] for name in names}


def _create_key(tenant, *args):
    out = StringIO()
    call_command(
        "create_api_key", "--tenant", str(tenant.pk), "--role", "owner", *args, "--json", stdout=out
    )
    return json.loads(out.getvalue())


def test_a_key_configured_with_toolsets_lists_them_unless_the_client_chooses(client):
    tenant = CompanyFactory()
    created = _create_key(tenant, "--toolsets", "tenant, routing")
    assert created["toolsets"] == ["routing", "tenant"]
    assert _services(client, created["api_key"]) == {"tenant", "routing"}
    # The client's choice wins over the key's configuration.
    assert _services(client, created["api_key"], **{"MCP-Toolsets": "staff"}) == {"staff"}
    everything = _create_key(tenant, "--toolsets", "all")
    assert _services(client, everything["api_key"]) == {
        "booking",
        "customer",
        "integration",
        "routing",
        "staff",
        "tenant",
    }
    plain = _create_key(tenant)
    assert plain["toolsets"] == []
    assert _services(client, plain["api_key"]) == {"booking", "customer"}
    audit = AuditLog.objects.for_tenant(tenant).get(
        action="api_key.created", object_id=str(ApiKey.objects.for_tenant(tenant).first().pk)
    )
    assert audit.changes["toolsets"] == ["routing", "tenant"]


def test_an_unknown_toolset_is_refused_and_no_key_is_issued():
    tenant = CompanyFactory()
    with pytest.raises(CommandError, match="Unknown toolsets"):
        call_command(
            "create_api_key",
            "--tenant",
            str(tenant.pk),
            "--role",
            "owner",
            "--toolsets",
            "booking,bogus",
        )
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command(
            "create_api_key",
            "--tenant",
            str(tenant.pk),
            "--role",
            "owner",
            "--toolsets",
            "bogus",
            "--json",
            stdout=out,
        )
    error = json.loads(out.getvalue())["error"]
    assert error["type"] == "VALIDATION_FAILED"
    assert "bogus" in error["details"]["toolsets"][0]
    assert ApiKey.objects.for_tenant(tenant).count() == 0


@pytest.fixture
def operator(client):
    profile = OperatorProfileFactory()
    profile.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="tenants", codename__endswith="apikey")
    )
    client.force_login(profile.user)
    return profile


def test_the_admin_changes_a_keys_toolsets_and_nothing_else(client, operator):
    key, token = ApiKeyFactory.create_with_plaintext(tenant=operator.tenant, role="staff")
    url = reverse("admin:tenants_apikey_change", args=[key.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="toolsets" value="routing"' in page.content.decode()
    assert _services(client, token) == {"booking", "customer"}

    response = client.post(url, {"toolsets": ["staff", "tenant"], "role": "owner", "name": "X"})
    assert response.status_code == 302, response.content
    key.refresh_from_db()
    assert (key.toolsets, key.role, key.name) == (["staff", "tenant"], "staff", "")
    audit = AuditLog.objects.for_tenant(operator.tenant).get(action="api_key.toolsets_changed")
    assert audit.changes == {"toolsets": [[], ["staff", "tenant"]]}
    assert audit.actor.startswith("admin:")
    # This process forgets the checked key at once; others within MCP_AUTH_CACHE_TTL.
    assert _services(client, token) == {"staff", "tenant"}

    refused = client.post(url, {"toolsets": ["bogus"]})
    assert refused.status_code == 200  # the form again, with the error
    key.refresh_from_db()
    assert key.toolsets == ["staff", "tenant"]


def test_the_admin_adds_a_key_with_toolsets(client, operator):
    response = client.post(
        reverse("admin:tenants_apikey_add"),
        {"name": "Assistent", "role": "readonly", "toolsets": ["tenant"]},
    )
    assert response.status_code == 302, response.content
    key = ApiKey.objects.for_tenant(operator.tenant).get(name="Assistent")
    assert key.toolsets == ["tenant"]


def test_another_tenants_key_cannot_be_changed(client, operator):
    foreign = ApiKeyFactory(tenant=CompanyFactory())
    url = reverse("admin:tenants_apikey_change", args=[foreign.pk])
    response = client.post(url, {"toolsets": ["tenant"]})
    assert response.status_code == 302  # the admin's answer to an object outside its queryset
    foreign.refresh_from_db()
    assert foreign.toolsets == []
    assert not AuditLog.objects.all_tenants().filter(action="api_key.toolsets_changed").exists()
