"""The routing-rule admin validates like updateRoutingRules and audits its writes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mcp_core.models import AuditLog
from routing.models import RoutingRule
from tenants.enums import WEEKDAYS
from tests.factories import BranchFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_superuser=True))
    return client


def post_rule(admin_client, tenant, **fields):
    data = {
        "tenant": tenant.pk,
        "name": "Abends",
        "priority": 10,
        "time_windows_0": "18:00",
        "time_windows_1": "20:00",
        "action": "fallback",
        "target_agent_id": "",
        "is_active": "on",
        **fields,
    }
    return admin_client.post(reverse("admin:routing_routingrule_add"), data)


def test_valid_rule_is_saved_normalised_and_audited(admin_client, tenant, berlin, hamburg):
    response = post_rule(
        admin_client,
        tenant,
        branch=berlin.pk,
        action="route_to_branch",
        target_branch=hamburg.pk,
        languages="EN",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = RoutingRule.objects.all_tenants().get()
    assert rule.conditions == {
        "time_windows": [
            {"start": "18:00", "end": "20:00", "weekdays": list(WEEKDAYS)},
        ],
        "languages": ["en"],
        "min_ongoing_calls": None,
    }
    audit = AuditLog.objects.for_tenant(tenant).get()
    assert (audit.action, audit.object_id) == ("routing.rule_created", str(rule.pk))


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"time_windows_0": "9"}, "time_windows"),
        ({"languages": "deutsch"}, "languages"),
        ({"action": "use_agent"}, None),
        ({"action": "overflow", "target_branch": "foreign"}, "target_branch"),
    ],
)
def test_invalid_rule_is_refused(admin_client, tenant, berlin, fields, error_field):
    if fields.get("target_branch") == "foreign":
        fields["target_branch"] = BranchFactory().pk
    response = post_rule(admin_client, tenant, **fields)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert (error_field or "__all__") in errors, errors
    assert RoutingRule.objects.all_tenants().count() == 0
    assert AuditLog.objects.all_tenants().count() == 0
