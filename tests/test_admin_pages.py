"""Every admin page an operator opens renders, on PostgreSQL (prepared statements, server-side
binding) as on SQLite: each model's list (with search, and with its date drill-down where it
has one) and one change page."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import AppointmentFactory, AuditLogFactory, CallLogFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _admins():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.mark.parametrize(
    ("model", "model_admin"), _admins(), ids=lambda v: getattr(v, "__name__", "")
)
def test_each_changelist_renders_with_search_and_date_drill_down(
    superuser_client, model, model_admin
):
    appointment = AppointmentFactory()
    AuditLogFactory(tenant=appointment.tenant)
    CallLogFactory(tenant=appointment.tenant)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    assert superuser_client.get(url).status_code == 200
    if model_admin.search_fields:
        assert superuser_client.get(url, {"q": "Kunde 1"}).status_code == 200
    if model_admin.date_hierarchy:
        field = model_admin.date_hierarchy
        drill = {f"{field}__year": "2027", f"{field}__month": "3"}
        assert superuser_client.get(url, drill).status_code == 200
    first = model._default_manager.first()
    if first is not None and model_admin.has_view_permission:
        change = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[first.pk]
        )
        assert superuser_client.get(change).status_code == 200
