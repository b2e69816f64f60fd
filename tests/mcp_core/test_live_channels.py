"""WebSocket /ws/v2/events against the real ASGI server (uvicorn) and Redis: bookings made over
REST, by the admin and by the phone agent reach the branch's subscriber as they commit; another
tenant can neither subscribe nor hear them; a reconnecting client gets what it missed."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bookings.models import Appointment
from mcp_core.management.demo import DEMO_SLUG, seed_demo
from routing.models import PhoneNumber
from tenants.models import Company
from tests.bookings.test_booking_service import World, make_world
from tests.factories import ApiKeyFactory, OperatorProfileFactory
from tests.integrations.retell_helpers import (
    BERLIN,
    CALLER,
    TEST_KEY,
    call_object,
    event,
    function,
    post,
)
from tests.serving import asgi_server

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.redis,
]

TIMEOUT = 10


def next_monday(weeks: int = 2) -> dt.date:
    today = dt.datetime.now(dt.UTC).date()
    return today + dt.timedelta(days=7 * weeks - today.weekday())


def key_for(world: World) -> str:
    _, token = ApiKeyFactory.create_with_plaintext(tenant=world.tenant, role="owner")
    return token


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker) -> Iterator[str]:
    with asgi_server() as base:
        yield base


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws/v2/events"


def receive(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=TIMEOUT))


@contextmanager
def subscribe(
    base: str, token: str, channels: list[str], after: int | None = None
) -> Iterator[ClientConnection]:
    with connect(ws_url(base), additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert receive(ws)["type"] == "authenticated"
        message: dict[str, Any] = {"type": "subscribe", "channels": channels}
        if after is not None:
            message["after"] = after
        ws.send(json.dumps(message))
        yield ws


def rest_booking(base: str, token: str, world: World, hour: int) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/api/v2/mcp/bookings",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "service_id": world.service.pk,
            "branch_id": world.branch.pk,
            "staff_id": world.anna.pk,
            "start_time": f"{next_monday()}T{hour:02d}:00:00",
            "customer_phone": "030 1234567",
            "customer_name": "Erika Mustermann",
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_rest_booking_reaches_the_branch_subscriber_as_it_commits(server):
    world = make_world()
    token = key_for(world)
    with subscribe(server, token, [f"branch.{world.branch.pk}"]) as ws:
        subscribed = receive(ws)
        assert subscribed == {
            "type": "subscribed",
            "channels": [f"branch.{world.branch.pk}"],
            "replayed": 0,
        }
        booked = rest_booking(server, token, world, 10)
        event = receive(ws)

    assert event["type"] == "event"
    assert event["event"] == "booking.created"
    assert event["tenant_id"] == world.tenant.pk
    assert event["data"]["appointment_id"] == booked["appointment"]["id"]
    assert event["data"]["confirmation_number"] == booked["confirmation_number"]
    assert "Erika" not in json.dumps(event)
    assert dt.datetime.fromisoformat(event["occurred_at"]).tzinfo is not None


def test_the_first_message_may_carry_the_key_instead_of_the_header(server):
    world = make_world()
    token = key_for(world)
    with connect(ws_url(server)) as ws:
        ws.send(json.dumps({"type": "auth", "api_key": token}))
        assert receive(ws) == {"type": "authenticated", "tenant_id": world.tenant.pk}
        ws.send(json.dumps({"type": "subscribe", "channels": [f"branch.{world.branch.pk}"]}))
        assert receive(ws)["type"] == "subscribed"
        ws.send(json.dumps({"type": "ping"}))
        assert receive(ws) == {"type": "pong"}


def test_another_tenant_cannot_subscribe_and_hears_nothing(server):
    world, other = make_world(), make_world()
    token, other_token = key_for(world), key_for(other)
    with (
        subscribe(server, other_token, [f"branch.{world.branch.pk}"]) as intruder,
        subscribe(server, other_token, [f"branch.{other.branch.pk}"]) as neighbour,
        subscribe(server, token, [f"branch.{world.branch.pk}"]) as owner,
    ):
        refused = receive(intruder)
        assert refused["type"] == "error"
        assert refused["error"]["type"] == "RESOURCE_NOT_FOUND"
        assert refused["error"]["details"] == {"channels": [f"branch.{world.branch.pk}"]}
        assert receive(neighbour)["type"] == "subscribed"
        assert receive(owner)["type"] == "subscribed"

        rest_booking(server, token, world, 11)

        assert receive(owner)["event"] == "booking.created"
        for ws in (intruder, neighbour):
            with pytest.raises(TimeoutError):
                ws.recv(timeout=1)


def test_a_bad_key_is_refused_and_the_socket_closed(server):
    with connect(ws_url(server), additional_headers={"Authorization": "Bearer apk_nope"}) as ws:
        refused = receive(ws)
        assert refused["error"]["type"] == "AUTHENTICATION_FAILED"
        with pytest.raises(Exception, match="4401"):
            ws.recv(timeout=TIMEOUT)
    with connect(ws_url(server)) as ws:
        ws.send(json.dumps({"type": "subscribe", "channels": ["branch.1"]}))
        assert receive(ws)["error"]["type"] == "AUTHENTICATION_FAILED"


def test_malformed_subscriptions_are_refused_with_the_envelope(server):
    world = make_world()
    with connect(
        ws_url(server), additional_headers={"Authorization": f"Bearer {key_for(world)}"}
    ) as ws:
        receive(ws)
        for message in (
            {"type": "subscribe", "channels": "branch.1"},
            {"type": "subscribe", "channels": ["tenant.1"]},
            {"type": "subscribe", "channels": [f"branch.{world.branch.pk}"], "after": -1},
            {"type": "dance"},
        ):
            ws.send(json.dumps(message))
            assert receive(ws)["error"]["type"] == "VALIDATION_FAILED", message


def test_a_reconnecting_client_gets_the_events_it_missed(server):
    world = make_world()
    token = key_for(world)
    channel = f"branch.{world.branch.pk}"
    with subscribe(server, token, [channel]) as ws:
        receive(ws)
        rest_booking(server, token, world, 9)
        cursor = receive(ws)["id"]
    # Disconnected: two bookings commit meanwhile.
    missed = [rest_booking(server, token, world, hour) for hour in (13, 14)]

    with subscribe(server, token, [channel], after=cursor) as ws:
        assert receive(ws)["replayed"] == 2
        replayed = [receive(ws), receive(ws)]
        live = rest_booking(server, token, world, 15)
        after = receive(ws)

    assert [e["data"]["appointment_id"] for e in replayed] == [
        booking["appointment"]["id"] for booking in missed
    ]
    assert replayed[0]["id"] > cursor
    assert after["data"]["appointment_id"] == live["appointment"]["id"]


def test_an_admin_move_reaches_the_subscriber(server, client):
    world = make_world()
    token = key_for(world)
    booked = rest_booking(server, token, world, 10)
    profile = OperatorProfileFactory(tenant=world.tenant, user__username="anja")
    profile.user.user_permissions.set(Permission.objects.filter(content_type__app_label="bookings"))
    client.force_login(profile.user)
    appointment = Appointment.objects.for_tenant(world.tenant).get(pk=booked["appointment"]["id"])

    with subscribe(server, token, [f"branch.{world.branch.pk}"]) as ws:
        receive(ws)
        response = client.post(
            reverse("admin:bookings_appointment_change", args=[appointment.pk]),
            {"move_to": f"{next_monday()} 15:00:00", "move_staff": world.ben.pk},
        )
        assert response.status_code == 302
        event = receive(ws)

    assert event["event"] == "booking.rescheduled"
    assert event["data"]["appointment_id"] == appointment.pk
    assert event["data"]["staff_id"] == world.ben.pk
    assert event["data"]["previous"]["staff_id"] == world.anna.pk


def test_a_booking_by_the_phone_agent_reaches_the_subscriber(server, client, settings):
    settings.RETELL_API_KEY = TEST_KEY
    seed_demo()
    tenant = Company.objects.get(slug=DEMO_SLUG)
    branch = PhoneNumber.objects.for_tenant(tenant).get(number=BERLIN).branch
    _, token = ApiKeyFactory.create_with_plaintext(tenant=branch.tenant, role="owner")
    call = call_object(
        "call_live_1", start_timestamp=int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    )

    with subscribe(server, token, [f"branch.{branch.pk}"]) as ws:
        receive(ws)
        assert post(client, event("call_started", call)).status_code == 204
        started = receive(ws)
        booked = post(
            client,
            function(
                "book_appointment",
                {"service": "Herrenschnitt", "date": next_monday().isoformat(), "time": "10:00"},
                call,
            ),
        ).json()
        assert booked["data"]["booked"] is True, booked
        created = receive(ws)

    assert (started["event"], started["data"]["call_id"]) == ("call.started", "call_live_1")
    assert CALLER not in json.dumps(started)
    assert created["event"] == "booking.created"
    assert created["data"]["confirmation_number"] == booked["data"]["confirmation_number"]
    assert created["data"]["source"] == "phone"


SUBSCRIBE_BOOKINGS = (
    "subscription($b: ID!) { bookingUpdated(branchId: $b) { id event data { appointmentId } } }"
)


@contextmanager
def graphql_socket(base: str, token: str) -> Iterator[ClientConnection]:
    url = base.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        ws.send(json.dumps(init))
        assert receive(ws)["type"] == "connection_ack"
        yield ws


def test_a_graphql_subscription_receives_the_booking(server):
    world, other = make_world(), make_world()
    token = key_for(world)
    with graphql_socket(server, token) as ws, graphql_socket(server, key_for(other)) as intruder:
        intruder.send(
            json.dumps(
                {
                    "id": "x",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE_BOOKINGS, "variables": {"b": world.branch.pk}},
                }
            )
        )
        refused = receive(intruder)
        ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE_BOOKINGS, "variables": {"b": world.branch.pk}},
                }
            )
        )
        # The subscription joins its channel when its resolver starts; graphql-transport-ws
        # sends no acknowledgement of a subscribe to wait for.
        time.sleep(1)
        booked = rest_booking(server, token, world, 12)
        message = receive(ws)

    # A resolver's error arrives as a result with `errors` (graphql-transport-ws `next`).
    assert refused["type"] == "next"
    assert refused["payload"]["data"] is None
    assert refused["payload"]["errors"][0]["extensions"]["type"] == "RESOURCE_NOT_FOUND"
    assert message["type"] == "next"
    assert message["payload"].get("errors") is None, message
    event = message["payload"]["data"]["bookingUpdated"]
    assert event["event"] == "booking.created"
    assert event["data"]["appointmentId"] == booked["appointment"]["id"]


def test_a_graphql_socket_without_a_valid_key_is_refused(server):
    url = server.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer x"}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


SUBSCRIBE_STAFF = (
    "subscription($b: ID!) { staffStatusChanged(branchId: $b)"
    " { event data { staffId branchId change } } }"
)
SCHEDULE = """mutation S($args: UpdateStaffScheduleInput!) {
  updateStaffSchedule(args: $args) {
    staffId schedule { monday { start end breaks { start end } } }
  }
}"""


def test_a_graphql_schedule_change_reaches_a_staff_status_subscriber(server):
    world = make_world()
    token = key_for(world)
    monday = [{"start": "09:00", "end": "17:00", "breaks": [{"start": "12:00", "end": "12:30"}]}]
    with graphql_socket(server, token) as ws:
        subscribe = {"query": SUBSCRIBE_STAFF, "variables": {"b": world.branch.pk}}
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        time.sleep(1)  # the resolver joins its channel when it starts (see above)
        answer = httpx.post(
            f"{server}/graphql",
            json={
                "query": SCHEDULE,
                "variables": {"args": {"staffId": world.anna.pk, "schedule": {"monday": monday}}},
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        ).json()
        message = receive(ws)

    assert "errors" not in answer, answer
    assert answer["data"]["updateStaffSchedule"]["schedule"]["monday"] == monday
    assert message["payload"]["data"]["staffStatusChanged"] == {
        "event": "staff.status_changed",
        "data": {"staffId": world.anna.pk, "branchId": world.branch.pk, "change": "schedule"},
    }
