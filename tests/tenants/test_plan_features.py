"""The plan features beyond SMS, per plan through the front doors (tenants.policy): GraphQL,
external MCP servers (federation) and the calendar sync, at the API, the admin, the command line
and in the background. `api_access` is every plan's (docs/contract.md, "Plans")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from bookings import calendar
from bookings.enums import SyncStatus
from bookings.models import Appointment
from integrations.models import CalcomAccount
from mcp_core.federation.sessions import close_pool
from mcp_core.models import AuditLog, OutboxMessage, OutboxStatus, Upstream
from mcp_core.outbox import deliver
from tenants.enums import Plan, SubscriptionStatus
from tenants.models import Company
from tests.bookings.test_booking_api import Api
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    _fresh_calendar,
    _frozen_time,
    booking_args,
    make_world,
    outbox,
)
from tests.factories import ApiKeyFactory, CompanyFactory, OperatorProfileFactory
from tests.mcp_core.federation_helpers import list_all, mcp_session, upstream_cli
from tests.mcp_core.test_graphql import camel
from tests.serving import asgi_server

GRAPHQL_REFUSED = {"feature": "graphql_api", "required_plan": "professional"}
FEDERATION_REFUSED = {"feature": "federation", "required_plan": "professional"}
CALENDAR_REFUSED = {"feature": "calendar_sync", "required_plan": "professional"}


def plan(tenant: Company, name: str, **subscription: Any) -> Company:
    tenant.subscription.plan = name
    for field, value in subscription.items():
        setattr(tenant.subscription, field, value)
    tenant.subscription.save()
    return tenant


def lapse(tenant: Company) -> Company:
    return plan(tenant, Plan.PROFESSIONAL, status=SubscriptionStatus.PAST_DUE)


@pytest.fixture
def operator_client(client):
    def login(tenant: Company) -> Any:
        profile = OperatorProfileFactory(tenant=tenant)
        profile.user.user_permissions.set(Permission.objects.all())
        client.force_login(profile.user)
        return client

    return login


# ------------------------------------------------------------------------------ api_access


@pytest.mark.django_db
def test_every_plan_has_the_api_and_basic_reports_it(client):
    tenant = plan(CompanyFactory(), Plan.BASIC)
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")
    response = client.post(
        "/api/v2/mcp/operations/tenant.getTenant",
        {},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content
    features = response.json()["subscription"]["features"]
    assert features["api_access"] is True
    assert (features["graphql_api"], features["federation"], features["calendar_sync"]) == (
        False,
        False,
        False,
    )


# ------------------------------------------------------------------------------------ GraphQL

TENANT_QUERY = "{ tenant { tenant { id } } }"


def graphql(client: Any, token: str, query: str) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json.dumps({"query": query}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "status", "allowed"),
    [
        (Plan.BASIC, SubscriptionStatus.ACTIVE, False),
        (Plan.PROFESSIONAL, SubscriptionStatus.PAST_DUE, False),
        (Plan.PROFESSIONAL, SubscriptionStatus.ACTIVE, True),
        (Plan.ENTERPRISE, SubscriptionStatus.ACTIVE, True),
    ],
    ids=["basic", "lapsed-professional", "professional", "enterprise"],
)
def test_graphql_needs_the_professional_plan(client, name, status, allowed):
    tenant = plan(CompanyFactory(), name, status=status)
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")

    body = graphql(client, token, TENANT_QUERY)

    if allowed:
        assert body["data"]["tenant"]["tenant"]["id"] == tenant.pk
        return
    [error] = body["errors"]
    assert error["extensions"]["type"] == "PERMISSION_DENIED"
    assert error["extensions"]["code"] == 1003
    assert error["extensions"]["details"] == GRAPHQL_REFUSED


@pytest.mark.django_db
def test_a_refused_graphql_mutation_writes_nothing(client):
    world = make_world(plan=Plan.BASIC)
    _, token = ApiKeyFactory.create_with_plaintext(tenant=world.tenant, role="owner")
    response = client.post(
        "/graphql",
        json.dumps(
            {
                "query": "mutation C($args: CreateBookingInput!)"
                " { createBooking(args: $args) { confirmationNumber } }",
                "variables": {"args": camel(booking_args(world))},
            }
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    [error] = response.json()["errors"]
    assert error["extensions"]["details"] == GRAPHQL_REFUSED
    assert not Appointment.objects.for_tenant(world.tenant).exists()


@pytest.fixture(scope="module")
def asgi(django_db_setup, django_db_blocker) -> Iterator[str]:
    with asgi_server() as base:
        yield base


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_graphql_socket_refuses_a_plan_without_graphql(asgi):
    basic = plan(CompanyFactory(), Plan.BASIC)
    _, basic_token = ApiKeyFactory.create_with_plaintext(tenant=basic, role="owner")
    _, pro_token = ApiKeyFactory.create_with_plaintext(role="owner")
    url = asgi.replace("http://", "ws://") + "/graphql"

    def init(token: str) -> Any:
        ws = connect(url, subprotocols=[Subprotocol("graphql-transport-ws")])
        payload = {"Authorization": f"Bearer {token}"}
        ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        return ws

    with init(basic_token) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    with init(pro_token) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"


# ---------------------------------------------------------------------------------- federation


def _refused_cli(*args: str) -> dict[str, Any]:
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("mcp", "upstream", *args, "--json", stdout=out)
    assert exited.value.code == 1
    error: dict[str, Any] = json.loads(out.getvalue())["error"]
    return error


@pytest.mark.django_db
def test_the_command_line_registers_no_upstream_for_a_plan_without_federation():
    tenant = plan(CompanyFactory(), Plan.BASIC)
    tenant_id = str(tenant.pk)
    error = _refused_cli("add", "crm", "--url", "http://127.0.0.1:9/mcp", "--tenant", tenant_id)
    assert (error["type"], error["details"]) == ("PERMISSION_DENIED", FEDERATION_REFUSED)
    assert not Upstream.objects.exists()


UPSTREAM_FORM = {
    "slug": "crm",
    "command": "[]",
    "url": "http://127.0.0.1:9/mcp",
    "enabled_tools": "[]",
    "role_required": "readonly",
    "enabled": "on",
    "new_credentials": "",
}


@pytest.mark.django_db
def test_the_admin_registers_no_upstream_for_a_plan_without_federation(operator_client):
    tenant = plan(CompanyFactory(), Plan.BASIC)
    client = operator_client(tenant)

    response = client.post(reverse("admin:mcp_core_upstream_add"), UPSTREAM_FORM)

    assert response.status_code == 200
    assert "The feature &#x27;federation&#x27; needs the professional plan." in (
        response.content.decode()
    )
    assert not Upstream.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_plan_without_federation_neither_sees_nor_calls_upstream_tools(live_server):
    try:
        _, peer_token = ApiKeyFactory.create_with_plaintext(role="readonly")
        # A global upstream: offered to every tenant whose plan has federation.
        upstream_cli(
            "add",
            "peer",
            "--url",
            f"{live_server.url}/mcp?toolsets=all",
            "--header",
            f"Authorization=Bearer {peer_token}",
        )
        basic = plan(CompanyFactory(), Plan.BASIC)
        _, basic_token = ApiKeyFactory.create_with_plaintext(tenant=basic, role="owner")
        _, pro_token = ApiKeyFactory.create_with_plaintext(role="owner")
        url = f"{live_server.url}/mcp?toolsets=all"

        async def work(client: Any) -> Any:
            names = [tool.name for tool in await list_all(client)]
            return names, await client.call_tool("peer_tenant_getTenant", {})

        names, refused = asyncio.run(mcp_session(url, basic_token, work))
        assert "tenant_getTenant" in names
        assert not [name for name in names if name.startswith("peer_")]
        assert refused.is_error is True
        error = json.loads(refused.content[0].text)["error"]
        assert (error["type"], error["details"]) == ("PERMISSION_DENIED", FEDERATION_REFUSED)
        # Refused before the upstream was asked: no audit row of a call.
        assert not AuditLog.objects.for_tenant(basic).filter(action="upstream.tool_called")

        names, answered = asyncio.run(mcp_session(url, pro_token, work))
        assert "peer_tenant_getTenant" in names and answered.is_error is False
    finally:
        close_pool()


# ------------------------------------------------------------------------------ calendar sync


@pytest.fixture
def memory_calendar(settings) -> calendar.InMemoryCalendar:
    settings.CALENDAR_BACKEND = "memory"
    backend = calendar.get_calendar_backend()
    assert isinstance(backend, calendar.InMemoryCalendar)
    return backend


@pytest.mark.django_db
def test_sync_calendar_event_is_refused_below_professional(client, memory_calendar):
    world = make_world(plan=Plan.BASIC)
    api = Api(client, world)
    appointment = Appointment.objects.for_tenant(world.tenant).get(
        pk=api.post("operations/booking.createBooking", booking_args(world)).json()["appointment"][
            "id"
        ]
    )

    response = api.post(
        "operations/integration.syncCalendarEvent", {"appointment_id": appointment.pk}
    )

    assert response.status_code == 403
    assert response.json()["error"]["details"] == CALENDAR_REFUSED
    assert memory_calendar.calls == []


@pytest.mark.django_db
def test_a_basic_tenants_booking_keeps_no_calendar_copy(client, memory_calendar):
    world = make_world(plan=Plan.BASIC)
    created = Api(client, world).post("operations/booking.createBooking", booking_args(world))

    assert created.status_code == 200, created.content
    appointment = Appointment.objects.for_tenant(world.tenant).get(
        pk=created.json()["appointment"]["id"]
    )
    assert appointment.sync_status == SyncStatus.NOT_REQUIRED
    assert not OutboxMessage.objects.for_tenant(world.tenant).filter(topic="calendar.sync")
    assert memory_calendar.calls == []


@pytest.mark.django_db
def test_a_lapsed_tenants_waiting_sync_is_skipped_not_dead_lettered(client, memory_calendar):
    world = make_world()
    api = Api(client, world)
    created = api.post("operations/booking.createBooking", booking_args(world)).json()
    appointment_id = created["appointment"]["id"]
    assert memory_calendar.calls[-1][0] == "create"
    calls_before = len(memory_calendar.calls)
    lapse(world.tenant)
    # A change writes its calendar message (the copy exists), which the outbox then delivers.
    cancelled = api.post(
        "operations/booking.cancelBooking", {"appointment_id": appointment_id, "reason": "x"}
    )
    assert cancelled.status_code == 200, cancelled.content
    for message in OutboxMessage.objects.for_tenant(world.tenant).filter(
        topic="calendar.sync", status=OutboxStatus.PENDING
    ):
        deliver(message.pk)

    assert len(memory_calendar.calls) == calls_before  # Cal.com was not asked
    messages = OutboxMessage.objects.for_tenant(world.tenant).filter(topic="calendar.sync")
    assert not messages.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD])
    appointment = Appointment.objects.for_tenant(world.tenant).get(pk=appointment_id)
    assert appointment.sync_status == SyncStatus.NOT_REQUIRED
    skipped = AuditLog.objects.for_tenant(world.tenant).get(action="calendar_sync.skipped")
    assert skipped.changes == {"reason": "plan", "feature": "calendar_sync"}


@pytest.mark.django_db
def test_the_admin_connects_no_calcom_account_below_professional(operator_client):
    tenant = plan(CompanyFactory(), Plan.BASIC)
    client = operator_client(tenant)
    form = {"api_key": "cal_live_abc", "api_url": "https://api.cal.com/v2", "is_active": "on"}

    response = client.post(reverse("admin:integrations_calcomaccount_add"), form)

    assert response.status_code == 200
    assert "The feature &#x27;calendar_sync&#x27; needs the professional plan." in (
        response.content.decode()
    )
    assert not CalcomAccount.objects.for_tenant(tenant).exists()
    plan(tenant, Plan.PROFESSIONAL)
    response = client.post(reverse("admin:integrations_calcomaccount_add"), form)
    assert response.status_code == 302
    assert CalcomAccount.objects.for_tenant(tenant).exists()
