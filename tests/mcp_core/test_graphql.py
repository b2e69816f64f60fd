"""GraphQL at /graphql (docs/contract.md): queries and mutations run as operations through the
orchestrator, so errors carry the REST codes in `extensions`; limits refuse costly queries."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mcp_core.models import DomainEvent
from mcp_core.orchestrator import execute_named
from mcp_core.realtime import graphql_calls
from tests.bookings.test_booking_api import Api
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    _fresh_calendar,
    _frozen_time,
    booking_args,
    make_world,
    outbox,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def api(client, world) -> Api:
    return Api(client, world)


def graphql(api: Api | None, client, query: str, variables: dict[str, Any] | None = None):
    headers = api.auth if api is not None else {}
    response = client.post(
        "/graphql",
        json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 200, response.content
    return response.json()


CREATE = """mutation Create($args: CreateBookingInput!) {
  createBooking(args: $args) { appointment { id startTime } confirmationNumber }
}"""


def camel(args: dict[str, Any]) -> dict[str, Any]:
    """An operation's arguments under GraphQL's field names (service_id → serviceId)."""
    return {
        re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key): value for key, value in args.items()
    }


def test_create_booking_runs_the_operation_and_emits_its_event(api, world, client):
    body = graphql(api, client, CREATE, {"args": camel(booking_args(world))})

    created = body["data"]["createBooking"]
    assert created["appointment"]["startTime"] == "2027-03-08T10:00:00+01:00"
    [event] = DomainEvent.objects.for_tenant(world.tenant)
    assert event.data["appointment_id"] == created["appointment"]["id"]


def test_queries_answer_for_the_callers_tenant(api, world, client):
    graphql(api, client, CREATE, {"args": camel(booking_args(world))})
    body = graphql(
        api,
        client,
        "{ tenant { tenant { name } } branches { branches { id } }"
        " bookings { bookings { id } } staff { staff { name } }"
        f' availability(args: {{serviceId: {world.service.pk}, date: "2027-03-08"}})'
        " { available } }",
    )

    assert "errors" not in body, body
    data = body["data"]
    assert data["tenant"]["tenant"]["name"] == "Salon Sonnenschein"
    assert [b["id"] for b in data["branches"]["branches"]] == [world.branch.pk]
    assert len(data["bookings"]["bookings"]) == 1
    assert {s["name"] for s in data["staff"]["staff"]} == {"Anna", "Ben"}
    assert data["availability"]["available"] is True


@pytest.mark.parametrize(
    "overrides",
    [
        {"service_id": 999_999},  # another tenant's or no service: 404
        {"start_time": "gestern"},  # not a time: 400
    ],
)
def test_a_mutations_error_carries_the_same_code_as_rest(api, world, client, overrides):
    args = booking_args(world, **overrides)
    rest = api.post("bookings", args).json()["error"]

    [error] = graphql(api, client, CREATE, {"args": camel(args)})["errors"]

    assert error["extensions"]["code"] == rest["code"]
    assert error["extensions"]["type"] == rest["type"]
    assert error["extensions"]["correlation_id"]
    assert not DomainEvent.objects.for_tenant(world.tenant).exists()


def test_another_tenants_booking_cannot_be_cancelled(api, world, client):
    created = graphql(api, client, CREATE, {"args": camel(booking_args(world))})["data"][
        "createBooking"
    ]
    other = Api(client, make_world())

    [error] = graphql(
        other,
        client,
        "mutation C($args: CancelBookingInput!)"
        " { cancelBooking(args: $args) { appointment { id } } }",
        {"args": {"appointmentId": created["appointment"]["id"]}},
    )["errors"]

    assert error["extensions"]["type"] == "RESOURCE_NOT_FOUND"


def test_without_a_key_every_field_is_refused(client):
    [error] = graphql(None, client, "{ tenant { tenant { id } } }")["errors"]

    assert (error["extensions"]["code"], error["extensions"]["type"]) == (
        1009,
        "AUTHENTICATION_FAILED",
    )


def test_a_readonly_key_cannot_mutate(client, world):
    readonly = Api(client, world, role="readonly")

    [error] = graphql(readonly, client, CREATE, {"args": camel(booking_args(world))})["errors"]

    assert error["extensions"]["type"] == "PERMISSION_DENIED"


def test_long_or_aliased_queries_are_refused_before_they_run(api, world, client):
    long = "{ " + "tenant { tenant { id } } " * 400 + "}"
    assert "token" in graphql(api, client, long)["errors"][0]["message"].lower()
    aliases = "{ " + " ".join(f"t{i}: tenant {{ tenant {{ id }} }}" for i in range(20)) + " }"
    assert "aliases" in graphql(api, client, aliases)["errors"][0]["message"]
    assert not DomainEvent.objects.for_tenant(world.tenant).exists()


@pytest.fixture
def operations(monkeypatch) -> list[str]:
    """The names of the operations GraphQL runs, in order (the real orchestrator runs them)."""
    ran: list[str] = []

    def recording(principal, name, args, **kwargs):
        ran.append(name)
        return execute_named(principal, name, args, **kwargs)

    monkeypatch.setattr(graphql_calls, "execute_named", recording)
    return ran


NESTED = """{ bookings { bookings {
  confirmationNumber customer { name phone } staff { name } service { name }
  branch { name bookings(date: "2027-03-08") { id } }
} } }"""


def book_three(api, client, world, phones=("030 1234567", "030 7654321", "030 2222222")):
    for hour, phone in zip(("10", "11", "12"), phones, strict=True):
        args = booking_args(world, start_time=f"2027-03-08T{hour}:00:00", customer_phone=phone)
        body = graphql(api, client, CREATE, {"args": camel(args)})
        assert "errors" not in body, body


def test_nested_fields_read_in_batches_not_per_booking(api, world, client, operations):
    book_three(api, client, world)
    other = make_world()
    book_three(
        Api(client, other), client, other, phones=("040 1234567", "040 2345678", "040 3456789")
    )
    operations.clear()

    body = graphql(api, client, NESTED)

    assert "errors" not in body, body
    bookings = body["data"]["bookings"]["bookings"]
    assert [b["customer"]["phone"] for b in bookings] == [
        "+49301234567",
        "+49307654321",
        "+49302222222",
    ]
    assert {b["staff"]["name"] for b in bookings} == {"Anna"}
    assert {b["service"]["name"] for b in bookings} == {"Damenhaarschnitt"}
    assert [len(b["branch"]["bookings"]) for b in bookings] == [3, 3, 3]
    # One operation per kind of nested read, however many bookings: no N+1.
    assert sorted(operations) == [
        "booking.listBookings",
        "booking.listBookings",
        "customer.getCustomers",
        "staff.listServices",
        "staff.listStaff",
        "tenant.listBranches",
    ]


def test_customers_by_id_leave_out_another_tenants(api, world, client):
    book_three(api, client, world)
    other = make_world()
    mine = graphql(api, client, "{ bookings { bookings { customerId } } }")["data"]
    ids = [b["customerId"] for b in mine["bookings"]["bookings"]]

    theirs = execute_named(other.principal, "customer.getCustomers", {"customer_ids": ids})
    own = execute_named(world.principal, "customer.getCustomers", {"customer_ids": ids})

    assert theirs.data == {"customers": []}
    assert own.data is not None and [c["id"] for c in own.data["customers"]] == sorted(ids)


def test_a_too_deep_query_is_refused_before_it_runs(api, client, operations):
    deep = """{ bookings { bookings { branch { bookings(date: "2027-03-08") {
      branch { bookings(date: "2027-03-08") { branch { id } } } } } } } }"""

    errors = graphql(api, client, deep)["errors"]

    [depth] = [e for e in errors if "exceeds maximum operation depth of 6" in e["message"]]
    assert depth["extensions"]["type"] == "VALIDATION_FAILED"
    assert operations == []


def test_a_too_costly_query_is_refused_before_it_runs(api, client, operations):
    costly = """{ branches { branches { bookings(date: "2027-03-08") {
      staff { services { name skillLevel } } } } } }"""

    [error] = graphql(api, client, costly)["errors"]

    assert "exceeds the maximum of 25000" in error["message"]
    assert (error["extensions"]["type"], error["extensions"]["code"]) == ("VALIDATION_FAILED", 1001)
    assert operations == []
    # The same read one level shallower is within the limit and runs.
    body = graphql(api, client, '{ branches { branches { bookings(date: "2027-03-08") { id } } } }')
    assert "errors" not in body, body
    assert operations == ["tenant.listBranches", "booking.listBookings"]


UPDATE = """mutation U($args: UpdateBookingInput!) {
  updateBooking(args: $args) { appointment { id endTime } }
}"""


def test_a_partial_update_tells_a_field_left_out_from_null(api, world, client):
    created = graphql(api, client, CREATE, {"args": camel(booking_args(world))})
    appointment_id = created["data"]["createBooking"]["appointment"]["id"]

    [refused] = graphql(
        api, client, UPDATE, {"args": {"appointmentId": appointment_id, "notes": None}}
    )["errors"]
    changed = graphql(
        api, client, UPDATE, {"args": {"appointmentId": appointment_id, "notes": "Pony"}}
    )

    assert refused["extensions"]["type"] == "VALIDATION_FAILED"
    assert "notes" in refused["extensions"]["details"]
    assert changed["data"]["updateBooking"]["appointment"]["endTime"] == "2027-03-08T10:30:00+01:00"
    rows = DomainEvent.objects.for_tenant(world.tenant).order_by("pk")
    assert [(e.event, e.data.get("changed")) for e in rows] == [
        ("booking.created", None),
        ("booking.updated", ["notes"]),
    ]


def test_a_variable_of_the_wrong_type_is_refused_in_the_envelope(api, world, client, operations):
    args = camel(booking_args(world, service_id="zwei"))

    [error] = graphql(api, client, CREATE, {"args": args})["errors"]

    assert (error["extensions"]["code"], error["extensions"]["type"]) == (1001, "VALIDATION_FAILED")
    assert "serviceId" in error["message"]
    assert operations == []
