"""staff.listServices, the catalogue read, through every front door: MCP, the REST operation
route, execute and `manage.py mcp call`; with its filters and tenant isolation."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from mcp_core.models import AuditLog
from tests.factories import (
    ApiKeyFactory,
    BranchFactory,
    CompanyFactory,
    ServiceFactory,
    StaffFactory,
    StaffServiceFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue() -> dict[str, Any]:
    """Two branches; a cut offered everywhere (no branches of its own), a colour only at
    Hamburg, a retired perm; one inactive stylist; and another tenant with its own service."""
    tenant = CompanyFactory(name="Salon Sonnenschein")
    berlin = BranchFactory(tenant=tenant, name="Berlin")
    hamburg = BranchFactory(tenant=tenant, name="Hamburg")
    cut = ServiceFactory(
        tenant=tenant,
        name="Herrenhaarschnitt",
        duration_minutes=30,
        price=Decimal("29.00"),
        buffer_after_minutes=5,
    )
    colour = ServiceFactory(
        tenant=tenant,
        name="Färben",
        duration_minutes=90,
        price=Decimal("79.50"),
        buffer_before_minutes=10,
        buffer_after_minutes=15,
    )
    colour.branches.add(hamburg)
    perm = ServiceFactory(tenant=tenant, name="Dauerwelle", is_active=False)
    anna = StaffFactory(branch=berlin, name="Anna")
    ben = StaffFactory(branch=hamburg, name="Ben")
    gone = StaffFactory(branch=berlin, name="Carla", is_active=False)
    StaffServiceFactory(staff=anna, service=cut)
    StaffServiceFactory(staff=ben, service=cut)
    StaffServiceFactory(staff=ben, service=colour)
    StaffServiceFactory(staff=gone, service=cut)
    other = CompanyFactory(name="Fremd")
    ServiceFactory(tenant=other, name="Fremder Schnitt")
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="readonly")
    return {
        "tenant": tenant,
        "token": token,
        "berlin": berlin,
        "hamburg": hamburg,
        "cut": cut,
        "colour": colour,
        "perm": perm,
        "anna": anna,
        "ben": ben,
    }


def _expected(c: dict[str, Any]) -> list[dict[str, Any]]:
    both = [c["berlin"].pk, c["hamburg"].pk]
    return [
        {
            "id": c["perm"].pk,
            "name": "Dauerwelle",
            "duration": 30,
            "price": "29.00",
            "buffer_before": 0,
            "buffer_after": 0,
            "branch_ids": both,
            "staff_ids": [],
        },
        {
            "id": c["colour"].pk,
            "name": "Färben",
            "duration": 90,
            "price": "79.50",
            "buffer_before": 10,
            "buffer_after": 15,
            "branch_ids": [c["hamburg"].pk],
            "staff_ids": [c["ben"].pk],
        },
        {
            "id": c["cut"].pk,
            "name": "Herrenhaarschnitt",
            "duration": 30,
            "price": "29.00",
            "buffer_before": 0,
            "buffer_after": 5,
            "branch_ids": both,
            "staff_ids": [c["anna"].pk, c["ben"].pk],
        },
    ]


def _rest(client: Any, token: str, args: dict[str, Any]) -> Any:
    return client.post(
        "/api/v2/mcp/operations/staff.listServices",
        json.dumps(args),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_rest_lists_the_whole_catalogue_by_name_and_writes_nothing(client, catalogue):
    audit_before = AuditLog.objects.all_tenants().count()
    response = _rest(client, catalogue["token"], {})
    assert response.status_code == 200
    assert response.json() == {"services": _expected(catalogue)}
    assert AuditLog.objects.all_tenants().count() == audit_before


def test_filters_by_branch_and_active_state(client, catalogue):
    expected = {entry["name"]: entry for entry in _expected(catalogue)}
    berlin = _rest(client, catalogue["token"], {"branch_id": catalogue["berlin"].pk}).json()
    # At Berlin: the colour is not offered, and only Berlin's active stylist does the cut.
    assert berlin == {
        "services": [
            expected["Dauerwelle"],
            {**expected["Herrenhaarschnitt"], "staff_ids": [catalogue["anna"].pk]},
        ]
    }
    active = _rest(client, catalogue["token"], {"active": True}).json()
    assert [s["name"] for s in active["services"]] == ["Färben", "Herrenhaarschnitt"]
    retired = _rest(client, catalogue["token"], {"active": False}).json()
    assert retired == {"services": [expected["Dauerwelle"]]}


def test_mcp_tool_answers_the_same_structured_content(client, catalogue):
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "staff_listServices", "arguments": {"active": True}},
    }
    response = client.post(
        "/mcp",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {catalogue['token']}",
        HTTP_MCP_PROTOCOL_VERSION="2025-06-18",
    )
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["isError"] is False
    assert result["structuredContent"] == {"services": _expected(catalogue)[1:]}


def test_mcp_tool_list_offers_it_to_a_readonly_key_with_its_schema(client, catalogue):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    tools: dict[str, Any] = {}
    cursor = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        page = client.post(
            "/mcp?toolsets=staff",
            json.dumps({**body, "params": params}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {catalogue['token']}",
            HTTP_MCP_PROTOCOL_VERSION="2025-06-18",
        ).json()["result"]
        tools.update({tool["name"]: tool for tool in page["tools"]})
        cursor = page.get("nextCursor")
        if not cursor:
            break
    tool = tools["staff_listServices"]
    assert tool["annotations"]["readOnlyHint"] is True
    assert set(tool["inputSchema"]["properties"]) == {"branch_id", "active"}
    assert tool["inputSchema"].get("required", []) == []
    item = tool["outputSchema"]["$defs"]["ServiceOut"]
    assert item["required"] == [
        "id",
        "name",
        "duration",
        "price",
        "buffer_before",
        "buffer_after",
        "branch_ids",
        "staff_ids",
    ]


def test_execute_and_the_command_line_answer_the_same(client, catalogue):
    executed = client.post(
        "/api/v2/mcp/execute",
        {"service": "staff", "operation": "listServices", "params": {"active": True}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {catalogue['token']}",
    )
    assert executed.status_code == 200
    assert executed.json() == {"services": _expected(catalogue)[1:]}
    out = StringIO()
    call_command(
        "mcp",
        "call",
        "staff.listServices",
        "--tenant",
        str(catalogue["tenant"].pk),
        "--args",
        '{"active": true}',
        stdout=out,
    )
    assert json.loads(out.getvalue()) == {"services": _expected(catalogue)[1:]}


def test_another_tenants_services_and_branches_are_never_shown(client, catalogue):
    other = CompanyFactory(name="Anderer Salon")
    other_branch = BranchFactory(tenant=other)
    ServiceFactory(tenant=other, name="Anderer Schnitt").branches.add(other_branch)
    _, other_token = ApiKeyFactory.create_with_plaintext(tenant=other, role="owner")
    theirs = _rest(client, other_token, {}).json()
    assert [s["name"] for s in theirs["services"]] == ["Anderer Schnitt"]
    # Our branch id from their key: nothing of ours, and their own services are not there.
    by_our_branch = _rest(client, other_token, {"branch_id": catalogue["berlin"].pk}).json()
    assert by_our_branch == {"services": []}
    ours = _rest(client, catalogue["token"], {"branch_id": other_branch.pk}).json()
    assert ours == {"services": []}


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"branch_id": "Berlin"}, "branch_id"),
        ({"active": "vielleicht"}, "active"),
        ({"service_id": 2}, "service_id"),
    ],
)
def test_invalid_arguments_are_refused_with_the_envelope(client, catalogue, args, field):
    response = _rest(client, catalogue["token"], args)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("VALIDATION_FAILED", 1001)
    assert list(error["details"]) == [field]
