"""Hostile input on every front door (REST, `POST /mcp`, `/api/v2/mcp/execute`, webhooks, the
command line): each answer is a 4xx in the envelope (or a JSON-RPC error on `/mcp`) and nothing
is written."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from bookings.models import Appointment, Customer
from integrations.models import WebhookEvent
from mcp_core.models import AuditLog, OutboxMessage, SagaRun
from mcp_core.orchestrator import execute_named
from staff.models import StaffService, TimeBlock
from tenants.models import Branch, Company
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    MONDAY,
    World,
    _fresh_calendar,
    _frozen_time,
    booking_args,
    make_world,
    outbox,
)
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v2/mcp"
ENVELOPE_KEYS = {"code", "type", "message", "details", "timestamp", "correlation_id"}
HUGE = 10**20  # beyond 64 bits
DIGITS_25 = int("9" * 25)


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def auth(world: World) -> dict[str, str]:
    _, token = ApiKeyFactory.create_with_plaintext(tenant=world.tenant, role="owner")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def snapshot(world: World) -> dict[str, Any]:
    """Everything a refused request could have written."""
    tenant = Company.objects.get(pk=world.tenant.pk)
    counts = {
        model.__name__: model.objects.for_tenant(world.tenant).count()
        for model in (
            Customer,
            Appointment,
            AuditLog,
            SagaRun,
            OutboxMessage,
            StaffService,
            TimeBlock,
            Branch,
        )
    }
    return {
        **counts,
        "webhook_events": WebhookEvent.objects.count(),
        "tenant_settings": tenant.settings,
        "branches": list(
            Branch.objects.for_tenant(world.tenant).order_by("pk").values("name", "settings")
        ),
        "skills": list(
            StaffService.objects.for_tenant(world.tenant)
            .order_by("pk")
            .values_list("staff_id", "service_id", "skill_level")
        ),
    }


def assert_envelope(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    assert set(error) == ENVELOPE_KEYS
    assert (error["type"], error["code"]) == ("VALIDATION_FAILED", 1001)
    if field is not None:
        assert field in error["details"], error["details"]
    return error


def rest(client: Any, auth: dict[str, str], method: str, path: str, body: Any = None) -> Any:
    url = f"{BASE}/{path}"
    if method == "GET":
        return client.get(url, body or {}, **auth)
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    send = client.post if method == "POST" else client.put
    return send(url, data, content_type="application/json", **auth)


def execute(client: Any, auth: dict[str, str], name: str, params: Any) -> Any:
    service, operation = name.split(".")
    body = {"service": service, "operation": operation, "params": params}
    return rest(client, auth, "POST", "execute", body)


def mcp(client: Any, auth: dict[str, str], tool: str, arguments: Any, raw: str | None = None):
    message = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": tool.replace(".", "_"), "arguments": arguments},
    }
    body = raw if raw is not None else json.dumps(message)
    return client.post("/mcp", body, content_type="application/json", **auth)


def assert_tool_refused(response: Any, field: str) -> None:
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["isError"] is True
    error = json.loads(result["content"][0]["text"])["error"]
    assert set(error) == ENVELOPE_KEYS
    assert (error["type"], error["code"]) == ("VALIDATION_FAILED", 1001)
    assert field in error["details"], error["details"]


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


# ------------------------------------------------- argument values the operations refuse


def _cases(world: World) -> list[tuple[str, str, str, dict[str, Any], str, str]]:
    """(operation, REST method, REST path, arguments, field in details, REST field)."""
    anna, service, branch = world.anna.pk, world.service.pk, world.branch.pk
    return [
        ("staff.listStaff", "GET", "staff", {"page": HUGE}, "page", "page"),
        ("staff.listStaff", "GET", "staff", {"service_id": DIGITS_25}, "service_id", "service_id"),
        (
            "staff.updateStaffSkills",
            "POST",
            "operations/staff.updateStaffSkills",
            {"staff_id": anna, "skills": [{"service_id": DIGITS_25, "skill_level": 3}]},
            "skills.0.service_id",
            "skills.0.service_id",
        ),
        (
            "staff.updateStaffSkills",
            "POST",
            "operations/staff.updateStaffSkills",
            {"staff_id": anna, "skills": [{"service_id": True, "skill_level": 3}]},
            "skills.0.service_id",
            "skills.0.service_id",
        ),
        (
            "booking.createBooking",
            "POST",
            "bookings",
            booking_args(world, service_id=True),
            "service_id",
            "service_id",
        ),
        (
            "booking.createBooking",
            "POST",
            "bookings",
            booking_args(world, branch_id=HUGE),
            "branch_id",
            "branch_id",
        ),
        (
            "booking.createBooking",
            "POST",
            "bookings",
            booking_args(world, start_time="9999-12-31T23:59:00"),
            "start_time",
            "start_time",
        ),
        (
            "booking.createBooking",
            "POST",
            "bookings",
            booking_args(world, start_time="0001-01-01T00:00:00+00:00"),
            "start_time",
            "start_time",
        ),
        (
            "staff.getStaffAvailability",
            "GET",
            f"staff/{anna}/availability",
            {"staff_id": anna, "start_date": "0001-01-01"},
            "start_date",
            "start_date",
        ),
        (
            "booking.checkAvailability",
            "POST",
            "bookings/check-availability",
            {"service_id": service, "date": "9999-12-31"},
            "date",
            "date",
        ),
        (
            "tenant.updateBranch",
            "PUT",
            f"tenant/branches/{branch}",
            {"branch_id": branch, "settings": {"deep": nested(20)}},
            "settings",
            "settings",
        ),
        (
            "tenant.updateBranch",
            "PUT",
            f"tenant/branches/{branch}",
            {"branch_id": branch, "settings": {"slot_interval_minutes": True}},
            "settings",
            "settings",
        ),
        (
            "tenant.updateTenantSettings",
            "POST",
            "operations/tenant.updateTenantSettings",
            {"settings": {"deep": nested(20)}},
            "settings",
            "settings",
        ),
    ]


CASE_IDS = [
    "page-beyond-64-bits",
    "service_id-25-digits-in-query",
    "skill-service_id-25-digits",
    "skill-service_id-true",
    "booking-service_id-true",
    "booking-branch_id-beyond-64-bits",
    "booking-year-9999",
    "booking-year-1",
    "availability-0001-01-01",
    "check-availability-9999-12-31",
    "branch-settings-20-deep",
    "branch-setting-true-for-minutes",
    "tenant-settings-20-deep",
]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_refused_arguments_are_a_400_on_every_front_door_and_write_nothing(
    client, world, auth, index
):
    name, method, path, args, field, rest_field = _cases(world)[index]
    before = snapshot(world)

    if method == "GET":
        query = {key: str(value) for key, value in args.items() if key != "staff_id"}
        assert_envelope(rest(client, auth, "GET", path, query), 400, rest_field)
    else:
        body = {key: value for key, value in args.items() if f"{{{key}}}" not in path}
        assert_envelope(rest(client, auth, method, path, body), 400, rest_field)
    assert_envelope(execute(client, auth, name, args), 400, field)
    assert_tool_refused(mcp(client, auth, name, args), field)

    assert snapshot(world) == before


def test_a_valid_booking_still_books_and_integers_as_text_still_read(client, world, auth):
    # The guards refuse booleans and huge numbers, not ordinary input: ids as query text work.
    listed = rest(client, auth, "GET", "staff", {"page": "1", "service_id": str(world.service.pk)})
    assert listed.status_code == 200
    assert listed.json()["count"] == 2
    booked = rest(client, auth, "POST", "bookings", booking_args(world))
    assert booked.status_code == 201
    assert Appointment.objects.for_tenant(world.tenant).count() == 1


# ---------------------------------------------------------- bodies refused when parsed


def _deep_body(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [400, 1000])
def test_json_nested_hundreds_of_levels_is_a_400_everywhere(client, world, auth, depth):
    before = snapshot(world)
    deep = _deep_body(depth)

    error = assert_envelope(rest(client, auth, "POST", "bookings", deep), 400, "body")
    assert error["message"] == "JSON may nest at most 32 levels."
    assert_envelope(rest(client, auth, "PUT", f"tenant/branches/{world.branch.pk}", deep), 400)
    wrapped = '{"service": "tenant", "operation": "updateTenantSettings", "params": '
    assert_envelope(rest(client, auth, "POST", "execute", wrapped + deep + "}"), 400, "body")
    response = mcp(client, auth, "tenant.updateTenantSettings", None, raw=deep)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32600
    assert response.json()["error"]["message"] == "JSON may nest at most 32 levels."

    assert snapshot(world) == before
    # Reading settings and branches still works: nothing deep was ever stored.
    assert rest(client, auth, "GET", "tenant/branches").status_code == 200
    assert rest(client, auth, "GET", "tenant").status_code == 200


def test_nul_in_any_string_is_refused_before_any_write(client, world, auth):
    before = snapshot(world)
    args = booking_args(world, notes="Bitte\u0000klingeln")

    error = assert_envelope(rest(client, auth, "POST", "bookings", args), 400, "body")
    assert error["message"] == "Text may not contain the NUL character (\\u0000)."
    assert_envelope(execute(client, auth, "booking.createBooking", args), 400, "body")
    keyed = booking_args(world, customer_name="Erika\u0000")
    assert_envelope(rest(client, auth, "POST", "bookings", keyed), 400, "body")
    response = mcp(client, auth, "booking.createBooking", args)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32600
    # The command line parses --args the same way.
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command(
            "mcp",
            "call",
            "booking.createBooking",
            "--tenant",
            str(world.tenant.pk),
            "--args",
            json.dumps(args),
            stdout=out,
        )
    assert exited.value.code == 1
    error = json.loads(out.getvalue())["error"]
    assert (error["type"], error["message"], error["details"]) == (
        "VALIDATION_FAILED",
        "--args: Text may not contain the NUL character (\\u0000).",
        {"body": ["Text may not contain the NUL character (\\u0000)."]},
    )
    # Callers in this process (the phone agent's functions) meet the rule in the input model.
    result = execute_named(world.principal, "booking.createBooking", args)
    assert result.error is not None
    assert (result.error.error_type.name, result.error.details) == (
        "VALIDATION_FAILED",
        {"params": ["Text may not contain the NUL character (\\u0000)."]},
    )

    assert snapshot(world) == before  # no orphan customer


def test_nan_and_infinity_are_not_json(client, world, auth):
    before = snapshot(world)
    body = json.dumps({"branch_id": world.branch.pk, "latitude": 1}).replace("1}", "NaN}")
    error = assert_envelope(
        rest(client, auth, "PUT", f"tenant/branches/{world.branch.pk}", body), 400, "body"
    )
    assert error["message"] == "The body is not valid JSON."
    assert snapshot(world) == before


# ------------------------------------------------------------- size and Host, before views


def test_a_body_over_the_size_limit_is_413_in_the_envelope(client, world, auth, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    before = snapshot(world)
    big = json.dumps(booking_args(world, notes="x" * 1900) | {"customer_name": "y" * 200})

    for response in (
        rest(client, auth, "POST", "bookings", big),
        rest(client, auth, "POST", "execute", big),
        mcp(client, auth, "booking.createBooking", None, raw=big),
        client.post("/webhooks/retell/functions", big, content_type="application/json"),
    ):
        error = assert_envelope(response, 413, "body")
        assert error["message"] == "The body is larger than 2048 bytes."
    assert snapshot(world) == before


def test_a_request_line_over_the_limit_is_414_in_the_envelope(client, world, auth, settings):
    settings.MAX_REQUEST_LINE = 1000
    before = snapshot(world)
    for response in (
        client.get(f"{BASE}/staff?branch_id=1&x={'9' * 1000}", **auth),
        client.post(f"/mcp?{'a' * 1000}", "{}", content_type="application/json", **auth),
    ):
        error = assert_envelope(response, 414, "query")
        assert error["message"] == "The path and query are longer than 1000 characters."
    assert snapshot(world) == before


def test_a_bad_host_is_400_in_the_envelope(client, world, auth):
    before = snapshot(world)
    for response in (
        client.get(f"{BASE}/staff", HTTP_HOST="evil.example", **auth),
        client.post(
            "/mcp", "{}", content_type="application/json", HTTP_HOST="evil.example", **auth
        ),
        client.post(
            "/webhooks/calcom", "{}", content_type="application/json", HTTP_HOST="evil.example"
        ),
    ):
        error = assert_envelope(response, 400, "host")
        assert error["message"] == "The Host header names no host served here."
    assert snapshot(world) == before


# ------------------------------------------------------------------ clearer first calls


def test_execute_names_a_wrong_body_key(client, world, auth):
    before = snapshot(world)
    body = {"service": "booking", "operation": "createBooking", "arguments": booking_args(world)}
    error = assert_envelope(rest(client, auth, "POST", "execute", body), 400)
    assert error["details"] == {
        "arguments": ["Unknown field; the operation's arguments go in 'params'."]
    }
    assert snapshot(world) == before


def test_mcp_call_prints_the_envelope_for_an_unknown_tenant_and_bad_args(world):
    for args in (["--tenant", "999999"], ["--tenant", str(world.tenant.pk), "--args", "{oops"]):
        out = StringIO()
        with pytest.raises(SystemExit) as exited:
            call_command("mcp", "call", "tenant.getTenant", *args, "--json", stdout=out)
        assert exited.value.code == 1
        error = json.loads(out.getvalue())["error"]
        assert set(error) == ENVELOPE_KEYS
    assert error["type"] == "VALIDATION_FAILED"
    assert error["details"] == {"body": ["The body is not valid JSON."]}
