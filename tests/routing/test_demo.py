"""The demo tenant routes sensibly out of the box."""

from __future__ import annotations

import pytest

from mcp_core.management.demo import seed_demo
from routing.models import RoutingRule
from tenants.models import Company
from tests.operations import ok, principal_for

pytestmark = pytest.mark.django_db


def test_demo_tenant_routes_sensibly():
    result = seed_demo()
    seed_demo()  # idempotent: the rules are not duplicated
    demo = Company.objects.get(pk=result["tenant_id"])
    assert RoutingRule.objects.for_tenant(demo).count() == 3
    owner = principal_for(demo)
    berlin_id, hamburg_id = (b["id"] for b in result["branches"])
    data = ok(owner, "routing.routeIncomingCall", {"phone_number": "+493012345670"})
    assert (data["routing_decision"], data["branch"]["id"]) == ("branch_specific", berlin_id)
    assert data["agent"]["agent_id"] == "agent_demo_berlin_de"
    english = {"phone_number": "+493012345670", "language": "en"}
    assert ok(owner, "routing.routeIncomingCall", english)["agent"]["agent_id"] == "agent_demo_en"
    near_hamburg = ok(owner, "routing.findNearestBranch", {"location": {"lat": 53.55, "lng": 9.96}})
    assert [b["id"] for b in near_hamburg["branches"]] == [hamburg_id]
