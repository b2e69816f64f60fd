"""SMS templates in the admin: an operator edits only their tenant's, placeholders are checked
on save, and every change goes through the audited service."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from integrations.models import SmsTemplate
from mcp_core.models import AuditLog
from tests.factories import CompanyFactory, OperatorProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    profile = OperatorProfileFactory(tenant=CompanyFactory())
    profile.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="integrations")
    )
    client.force_login(profile.user)
    return client, profile.tenant


def test_an_operator_saves_a_checked_template_for_their_own_tenant(operator) -> None:
    client, tenant = operator
    other = CompanyFactory()
    response = client.post(
        reverse("admin:integrations_smstemplate_add"),
        {"tenant": other.pk, "kind": "reminder", "body": "Bis {termin}, {kunde}!"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    template = SmsTemplate.objects.all_tenants().get()
    assert (template.tenant, template.kind, template.body) == (
        tenant,
        "reminder",
        "Bis {termin}, {kunde}!",
    )
    assert (
        AuditLog.objects.all_tenants().filter(tenant=tenant, action="sms_template.created").count()
        == 1
    )


def test_a_template_with_unknown_placeholders_is_refused(operator) -> None:
    client, tenant = operator
    response = client.post(
        reverse("admin:integrations_smstemplate_add"),
        {"kind": "reminder", "body": "Bis {termin} {passwort}"},
    )
    assert response.status_code == 200
    assert "Unknown placeholder {passwort}" in response.content.decode()
    assert not SmsTemplate.objects.all_tenants().exists()
    assert not AuditLog.objects.all_tenants().filter(tenant=tenant).exists()


def test_an_operator_never_sees_another_tenants_templates(operator) -> None:
    client, _ = operator
    theirs = SmsTemplate.objects.create(
        tenant=CompanyFactory(), kind="reminder", body="Fremd {termin}"
    )
    listing = client.get(reverse("admin:integrations_smstemplate_changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == []
    change_url = reverse("admin:integrations_smstemplate_change", args=[theirs.pk])
    assert client.get(change_url).status_code in (302, 404)
