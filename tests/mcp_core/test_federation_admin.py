"""The upstream admin: adding goes through the registry's validation and audit, credentials
are write-only, an operator sees and adds only the own tenant's upstreams."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from mcp_core.models import AuditLog, Upstream
from tests.factories import OperatorProfileFactory, UserFactory

pytestmark = pytest.mark.django_db

ADD = reverse("admin:mcp_core_upstream_add")


def _form(**fields):
    data = {
        "slug": "crm",
        "command": "[]",
        "url": "http://127.0.0.1:9/mcp",
        "enabled_tools": "[]",
        "role_required": "readonly",
        "enabled": "on",
        "new_credentials": '{"Authorization": "Bearer crm-secret"}',
    }
    data.update(fields)
    return data


@pytest.fixture
def operator(client):
    profile = OperatorProfileFactory()
    profile.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="mcp_core", codename__endswith="upstream")
    )
    client.force_login(profile.user)
    return profile


def test_a_reserved_slug_is_a_form_error_and_nothing_is_written(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(ADD, _form(slug="booking"))
    assert response.status_code == 200
    assert "one of our service names" in response.content.decode()
    assert not Upstream.objects.exists()


def test_a_superuser_adds_a_global_upstream_whose_credentials_are_not_shown(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(ADD, _form())
    assert response.status_code == 302
    upstream = Upstream.objects.get()
    assert (upstream.tenant_id, upstream.slug, upstream.transport) == (None, "crm", "http")
    assert json.loads(upstream.credentials) == {"Authorization": "Bearer crm-secret"}
    page = client.get(reverse("admin:mcp_core_upstream_change", args=[upstream.pk]))
    assert page.status_code == 200 and "crm-secret" not in page.content.decode()
    # Changing without new credentials keeps them.
    changed = client.post(
        reverse("admin:mcp_core_upstream_change", args=[upstream.pk]),
        {"enabled_tools": '["search"]', "role_required": "manager", "new_credentials": ""},
    )
    assert changed.status_code == 302
    upstream.refresh_from_db()
    assert (upstream.enabled, upstream.enabled_tools, upstream.role_required) == (
        False,
        ["search"],
        "manager",
    )
    assert json.loads(upstream.credentials) == {"Authorization": "Bearer crm-secret"}


def test_an_operator_adds_for_the_own_tenant_only(client, operator):
    other = OperatorProfileFactory()
    Upstream.objects.create(tenant=other.tenant, slug="other", transport="http", url="http://x/")
    response = client.post(ADD, _form())
    assert response.status_code == 302
    mine = Upstream.objects.get(slug="crm")
    assert mine.tenant_id == operator.tenant_id
    assert (
        AuditLog.objects.for_tenant(operator.tenant).filter(action="upstream.registered").exists()
    )
    listing = client.get(reverse("admin:mcp_core_upstream_changelist")).content.decode()
    assert "crm" in listing and "other" not in listing
