"""The published schema tells the truth: the OpenAPI document states what validation enforces,
the same as the MCP tools' inputSchema, and declares the Bearer scheme."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bookings.models import Appointment
from mcp_core.models import AuditLog
from mcp_core.operations import MAX_PAGE, registry
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client) -> dict[str, Any]:
    return client.get("/api/schema/", {"format": "json"}).json()


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, list):
        return [_inlined(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return {**_inlined(defs[schema["$ref"].split("/")[-1]], defs), **_inlined(rest, defs)}
    return {k: _inlined(v, defs) for k, v in schema.items() if k != "$defs"}


def test_openapi_31_declares_the_bearer_scheme_on_every_route(schema):
    assert schema["openapi"] == "3.1.0"
    assert schema["components"]["securitySchemes"]["ApiKeyBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "apk_<prefix>_<secret>",
        "description": "An API key (manage.py create_api_key; make run prints the demo's).",
    }
    operations = [op for methods in schema["paths"].values() for op in methods.values()]
    assert {json.dumps(op["security"]) for op in operations} == {'[{"ApiKeyBearer": []}]'}
    operation_ids = [
        op["operationId"] for methods in schema["paths"].values() for op in methods.values()
    ]
    assert len(operation_ids) == len(set(operation_ids)) == 76


def test_every_operation_body_is_the_mcp_input_schema(client, schema):
    _, token = ApiKeyFactory.create_with_plaintext(role="owner")
    tools = {}
    cursor = None
    while True:
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/list",
            "params": {"cursor": cursor} if cursor else {},
        }
        page = client.post(
            "/mcp?toolsets=all",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        ).json()["result"]
        tools.update({tool["name"]: tool["inputSchema"] for tool in page["tools"]})
        cursor = page.get("nextCursor")
        if not cursor:
            break
    assert len(tools) == len(list(registry))
    for op in registry:
        route = schema["paths"][f"/api/v2/mcp/operations/{op.name}"]["post"]
        published = route["requestBody"]["content"]["application/json"]["schema"]
        mcp = tools[op.tool_name]
        assert published == _inlined(mcp, mcp.get("$defs", {})), op.name
        # A body is required when fields are, or when a rule asks for one of several.
        must_send = bool(mcp.get("required")) or "anyOf" in mcp or "oneOf" in mcp
        assert route["requestBody"].get("required", False) is must_send, op.name


def test_query_parameters_carry_their_types_and_ranges(schema):
    params = {p["name"]: p for p in schema["paths"]["/api/v2/mcp/staff"]["get"]["parameters"]}
    assert params["page"]["schema"]["type"] == "integer"
    assert (params["page"]["schema"]["minimum"], params["page"]["schema"]["maximum"]) == (
        1,
        MAX_PAGE,
    )
    assert (params["page_size"]["schema"]["minimum"], params["page_size"]["schema"]["maximum"]) == (
        1,
        100,
    )
    assert params["active"]["schema"]["type"] == "boolean"
    assert params["branch_id"]["schema"]["type"] == "integer"
    assert params["branch_id"].get("required", False) is False
    # The path's id is a path parameter only, not also a query parameter or a body field.
    availability = schema["paths"]["/api/v2/mcp/staff/{staff_id}/availability"]["get"]
    assert [
        (p["in"], p["name"]) for p in availability["parameters"] if p["name"] == "staff_id"
    ] == [("path", "staff_id")]
    assert availability["parameters"][0]["schema"]
    dates = {p["name"]: p for p in availability["parameters"]}
    assert dates["start_date"]["schema"]["format"] == "date"
    assert dates["start_date"]["required"] is True
    reschedule = schema["paths"]["/api/v2/mcp/bookings/{appointment_id}/reschedule"]["post"]
    body = reschedule["requestBody"]["content"]["application/json"]["schema"]
    assert "appointment_id" not in body["properties"]
    assert body["required"] == ["start_time"]


def test_health_routes_document_their_401(schema):
    assert {"200", "401", "503"} <= set(schema["paths"]["/api/v2/mcp/health"]["get"]["responses"])
    assert "401" in schema["paths"]["/api/v2/mcp/integrations/health"]["get"]["responses"]


@pytest.mark.parametrize("body", ["null", "[]", '"x"', "3"])
def test_a_body_that_is_not_an_object_is_refused_and_writes_nothing(client, body):
    _, token = ApiKeyFactory.create_with_plaintext(role="owner")
    audit_before = AuditLog.objects.all_tenants().count()
    response = client.post(
        "/api/v2/mcp/bookings",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["details"]) == (
        "VALIDATION_FAILED",
        {"body": ["Must be an object."]},
    )
    assert Appointment.objects.all_tenants().count() == 0
    assert AuditLog.objects.all_tenants().count() == audit_before


@pytest.mark.parametrize("value", ["0", "20270607", "07.06.2027", "2027-06-07T10:00"])
def test_a_date_is_only_yyyy_mm_dd_as_the_schema_says(client, value):
    _, token = ApiKeyFactory.create_with_plaintext(role="owner")
    response = client.get(
        "/api/v2/mcp/bookings", {"date": value}, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"date": ["Expected a date as YYYY-MM-DD."]}
