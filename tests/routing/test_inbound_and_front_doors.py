"""The Retell inbound-call answer, and routing through REST and MCP."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from bookings.enums import AppointmentStatus
from routing.services import INBOUND_VARIABLES, inbound_call_answer
from tests.factories import (
    ApiKeyFactory,
    AppointmentFactory,
    BranchFactory,
    CustomerFactory,
    PhoneNumberFactory,
    ServiceFactory,
    StaffFactory,
)
from tests.routing.support import BERLIN, BERLIN_NUMBER, SUNDAY

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("numbers")]

CALLER = "+4915112345678"


@pytest.fixture
def maria(tenant, hamburg):
    customer = CustomerFactory(tenant=tenant, phone=CALLER, name="Maria Hoffmann", language="de")
    staff = StaffFactory(branch=hamburg)
    service = ServiceFactory(tenant=tenant, name="Färben", duration_minutes=90)
    for start, status in [
        (dt.datetime(2027, 6, 1, 14, 0, tzinfo=BERLIN), AppointmentStatus.CONFIRMED),  # past
        (dt.datetime(2027, 6, 8, 9, 0, tzinfo=BERLIN), AppointmentStatus.CANCELLED),
        (dt.datetime(2027, 6, 8, 14, 0, tzinfo=BERLIN), AppointmentStatus.CONFIRMED),
        (dt.datetime(2027, 6, 20, 14, 0, tzinfo=BERLIN), AppointmentStatus.CONFIRMED),
    ]:
        AppointmentFactory(
            staff=staff, customer=customer, service=service, start_time=start, status=status
        )
    return customer


def test_known_caller_gets_the_routed_agent_and_personal_variables(tenant, berlin, maria):
    with CaptureQueriesContext(connection) as queries:
        answer = inbound_call_answer(to_number=BERLIN_NUMBER, from_number="0151 12345678")
    assert len(queries.captured_queries) <= 8
    assert answer.override_agent_id == "agent_berlin_de"
    assert (answer.tenant_id, answer.branch_id, answer.customer_id) == (
        tenant.pk,
        berlin.pk,
        maria.pk,
    )
    upcoming = maria.appointments.get(start_time=dt.datetime(2027, 6, 8, 14, 0, tzinfo=BERLIN))
    assert answer.dynamic_variables == {
        "company_name": "Salon Sonnenschein",
        "branch_name": "Berlin Mitte",
        "branch_address": "Friedrichstraße 123, 10117 Berlin",
        "branch_phone": "+4930120045670",
        "opening_hours_today": "09:00–18:00",
        "branch_open_now": "ja",
        "current_date": "Mittwoch, 2. Juni 2027",
        "current_time": "10:00",
        "caller_number": CALLER,
        "customer_known": "ja",
        "customer_name": "Maria Hoffmann",
        "customer_language": "de",
        "next_appointment": "Dienstag, 8. Juni 2027 um 14:00 Uhr: Färben in Hamburg Altona",
        "next_appointment_confirmation_number": upcoming.confirmation_number,
        "routing_decision": "branch_specific",
    }
    body = answer.as_retell_response()["call_inbound"]
    assert body["override_agent_id"] == "agent_berlin_de"
    assert all(isinstance(value, str) for value in body["dynamic_variables"].values())
    assert body["metadata"]["tenant_id"] == tenant.pk


def test_caller_language_chooses_the_agent_and_closed_days_say_so(tenant, berlin, maria):
    PhoneNumberFactory(
        branch=berlin, number="+493012345671", retell_agent_id="agent_en", language="en"
    )
    maria.language = "en"
    maria.save()
    answer = inbound_call_answer(to_number=BERLIN_NUMBER, from_number=CALLER)
    assert answer.override_agent_id == "agent_en"
    assert answer.dynamic_variables["customer_language"] == "en"
    with time_machine.travel(SUNDAY, tick=False):
        answer = inbound_call_answer(to_number=BERLIN_NUMBER, from_number=CALLER)
    assert answer.dynamic_variables["opening_hours_today"] == "heute geschlossen"
    assert answer.dynamic_variables["branch_open_now"] == "nein"
    assert answer.routing_decision == "fallback"


def test_unknown_caller_gets_generic_personal_variables(berlin):
    answer = inbound_call_answer(to_number=BERLIN_NUMBER, from_number="anonymous")
    assert answer.override_agent_id == "agent_berlin_de"
    assert answer.customer_id is None
    variables = answer.dynamic_variables
    assert (
        variables["customer_known"],
        variables["customer_name"],
        variables["caller_number"],
    ) == (
        "nein",
        "",
        "anonymous",
    )
    assert variables["next_appointment"] == ""


@override_settings(RETELL_DEFAULT_AGENT_ID="agent_server_default")
@pytest.mark.parametrize("to_number", ["+498912345679", "not a number", ""])
def test_unknown_dialled_number_gets_the_default_agent(to_number):
    answer = inbound_call_answer(to_number=to_number, from_number=CALLER)
    assert answer.override_agent_id == "agent_server_default"
    assert answer.tenant_id is None
    assert set(answer.dynamic_variables) == set(INBOUND_VARIABLES)
    assert answer.dynamic_variables["customer_known"] == "nein"
    assert answer.dynamic_variables["current_date"] == "Mittwoch, 2. Juni 2027"
    assert all(isinstance(value, str) for value in answer.dynamic_variables.values())


def test_inactive_tenant_and_no_default_agent_leave_retells_choice(tenant):
    tenant.is_active = False
    tenant.save()
    answer = inbound_call_answer(to_number=BERLIN_NUMBER, from_number=CALLER)
    assert answer.override_agent_id is None
    assert "override_agent_id" not in answer.as_retell_response()["call_inbound"]


# ------------------------------------------------------------------------------ front doors


@pytest.fixture
def auth(tenant):
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def execute(client, auth, operation, params):
    return client.post(
        "/api/v2/mcp/execute",
        {"service": "routing", "operation": operation, "params": params},
        content_type="application/json",
        **auth,
    )


def test_rest_routes_a_call_and_answers_404_for_a_foreign_number(client, auth, berlin):
    response = execute(client, auth, "routeIncomingCall", {"phone_number": BERLIN_NUMBER})
    assert response.status_code == 200
    assert response.json()["branch"]["id"] == berlin.pk
    foreign = PhoneNumberFactory(branch=BranchFactory(), number="+498912345670")
    response = execute(client, auth, "routeIncomingCall", {"phone_number": foreign.number})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "RESOURCE_NOT_FOUND"


def test_rest_invalid_rules_are_a_400_envelope(client, auth, berlin):
    response = execute(
        client,
        auth,
        "updateRoutingRules",
        {"rules": [{"name": "x", "action": "overflow", "target_branch_id": 0}]},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["type"]) == (1001, "VALIDATION_FAILED")
    assert error["details"] == {
        "rules.0.target_branch_id": ["Not an active branch of this tenant."]
    }


def rpc(client, auth, method, params):
    return client.post(
        "/mcp?toolsets=all",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        content_type="application/json",
        **auth,
    )


def test_mcp_lists_and_calls_routing_tools(client, auth, berlin, hamburg):
    listed = rpc(client, auth, "tools/list", {}).json()["result"]
    tools = {tool["name"]: tool for tool in listed["tools"]}
    cursor = listed.get("nextCursor")
    while cursor:
        page = rpc(client, auth, "tools/list", {"cursor": cursor}).json()["result"]
        tools.update({tool["name"]: tool for tool in page["tools"]})
        cursor = page.get("nextCursor")
    assert {
        "routing_routeIncomingCall",
        "routing_findNearestBranch",
        "routing_getRoutingRules",
        "routing_updateRoutingRules",
        "routing_routeToFallback",
        "routing_getCallDistribution",
    } <= set(tools)
    assert "location" in tools["routing_findNearestBranch"]["inputSchema"]["required"]

    result = rpc(
        client,
        auth,
        "tools/call",
        {
            "name": "routing_findNearestBranch",
            "arguments": {"location": {"lat": 53.55, "lng": 9.99}},
        },
    ).json()["result"]
    assert result["isError"] is False
    assert [b["id"] for b in result["structuredContent"]["branches"]] == [hamburg.pk]
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]

    failed_call = rpc(
        client,
        auth,
        "tools/call",
        {"name": "routing_routeIncomingCall", "arguments": {"phone_number": "+498912345679"}},
    ).json()["result"]
    assert failed_call["isError"] is True
    assert json.loads(failed_call["content"][0]["text"])["error"]["type"] == "RESOURCE_NOT_FOUND"
