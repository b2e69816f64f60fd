"""Webhooks out (docs/events.md): a tenant's endpoint receives its events signed; a receiver
answering 500 gets the event again later and exactly once after it recovers; retries run
out into the dead letter, which is replayed like any outbox message."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from mcp_core import outbox
from mcp_core.events import WEBHOOK_TOPIC
from mcp_core.models import OutboxMessage, OutboxStatus, WebhookEndpoint
from mcp_core.webhooks_out import SIGNATURE_HEADER, signature, verify
from tests.bookings.test_booking_api import Api
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    _fresh_calendar,
    _frozen_time,
    booking_args,
    make_world,
)
from tests.factories import OperatorProfileFactory
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    fake = WebhookReceiver().start()
    yield fake
    fake.stop()


@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def api(client, world) -> Api:
    return Api(client, world)


def register(api: Api, url: str, events: list[str]) -> dict:
    response = api.post(
        "operations/integration.createWebhookEndpoint", {"url": url, "events": events}
    )
    assert response.status_code == 200, response.content
    return response.json()


def webhook_messages(world) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.for_tenant(world.tenant).filter(topic=WEBHOOK_TOPIC).order_by("pk")
    )


def test_a_booking_reaches_the_endpoint_signed_with_the_secret_shown_once(api, world, receiver):
    created = register(api, receiver.url, ["booking.created"])
    secret = created["secret"]
    assert secret.startswith("whsec_")

    booked = api.post("bookings", booking_args(world))
    assert booked.status_code == 201

    [delivery] = receiver.deliveries
    header = delivery.headers[SIGNATURE_HEADER]
    assert verify(secret, header, delivery.body)
    assert not verify("whsec_wrong", header, delivery.body)
    assert not verify(secret, header, delivery.body + b" ")
    event = json.loads(delivery.body)
    assert event["event"] == "booking.created" == delivery.headers["AskProAI-Event"]
    assert event["data"]["appointment_id"] == booked.json()["appointment"]["id"]
    listed = api.post("operations/integration.listWebhookEndpoints", {})
    assert listed.json()["endpoints"][0]["url"] == receiver.url
    assert "secret" not in json.dumps(listed.json())


def test_the_signature_is_hmac_sha256_over_timestamp_and_body():
    header = signature("whsec_x", 1700000000, b'{"a":1}')
    # echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_x
    assert header.startswith("t=1700000000,v1=")
    assert len(header.split("v1=")[1]) == 64
    with time_machine.travel(dt.datetime.fromtimestamp(1700000000 + 600, dt.UTC)):
        assert not verify("whsec_x", header, b'{"a":1}')  # too old: a replayed request


def test_a_receiver_answering_500_gets_the_event_later_and_once_after_it_recovers(
    api, world, receiver, settings
):
    settings.MCP_OUTBOX_SWEEP_GRACE = 0
    register(api, receiver.url, ["*"])
    receiver.status = 500
    api.post("bookings", booking_args(world))
    [message] = webhook_messages(world)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert message.next_attempt_at > timezone.now()

    with time_machine.travel(message.next_attempt_at + dt.timedelta(seconds=1), tick=False):
        assert outbox.deliver_due() == [message.pk]  # still failing
    message.refresh_from_db()
    receiver.status = 204
    with time_machine.travel(message.next_attempt_at + dt.timedelta(seconds=1), tick=False):
        assert outbox.deliver_due() == [message.pk]
        assert outbox.deliver_due() == []  # delivered: never again
    message.refresh_from_db()

    assert message.status == OutboxStatus.DELIVERED
    assert [d.answered for d in receiver.deliveries] == [500, 500, 204]
    assert len(receiver.accepted()) == 1
    bodies = {d.body for d in receiver.deliveries}
    assert len(bodies) == 1  # the same event each time
    assert len({d.headers["AskProAI-Delivery"] for d in receiver.deliveries}) == 1


def test_retries_run_out_into_the_dead_letter_which_is_replayed(api, world, receiver, settings):
    settings.MCP_MAX_RETRIES = 1
    settings.MCP_OUTBOX_SWEEP_GRACE = 0
    register(api, receiver.url, ["booking.created"])
    receiver.status = 503
    api.post("bookings", booking_args(world))
    [message] = webhook_messages(world)
    message.refresh_from_db()
    with time_machine.travel(message.next_attempt_at + dt.timedelta(seconds=1), tick=False):
        outbox.deliver_due()
    message.refresh_from_db()
    assert message.status == OutboxStatus.DEAD

    receiver.status = 200
    replay = api.post(
        "operations/integration.retryFailedSync", {"scope": "dead", "topic": WEBHOOK_TOPIC}
    )
    assert replay.status_code == 200, replay.content
    message.refresh_from_db()
    assert message.status == OutboxStatus.DELIVERED
    assert [d.answered for d in receiver.deliveries] == [503, 503, 200]


def test_only_asked_for_events_are_sent_and_only_to_the_tenants_own_endpoints(
    api, world, receiver, client
):
    register(api, receiver.url, ["booking.cancelled"])
    other = make_world()
    Api(client, other).post("bookings", booking_args(other))
    booked = api.post("bookings", booking_args(world)).json()
    assert receiver.deliveries == []

    api.post("operations/booking.cancelBooking", {"appointment_id": booked["appointment"]["id"]})
    assert [json.loads(d.body)["event"] for d in receiver.deliveries] == ["booking.cancelled"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://example.com/hook", "events": ["booking.created"]}, "url"),
        ({"url": "ftp://example.com/hook", "events": ["booking.created"]}, "url"),
        ({"url": "https://[::1/hook", "events": ["booking.created"]}, "url"),
        ({"url": "https://example.com/hook", "events": ["booking.exploded"]}, "events"),
        ({"url": "https://example.com/hook", "events": []}, "events"),
    ],
)
def test_bad_endpoints_are_refused_and_nothing_is_written(api, world, body, field):
    response = api.post("operations/integration.createWebhookEndpoint", body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "VALIDATION_FAILED"
    assert field in json.dumps(error["details"])
    assert not WebhookEndpoint.objects.for_tenant(world.tenant).exists()


def test_another_tenants_endpoint_cannot_be_deleted(api, world, receiver, client):
    endpoint = register(api, receiver.url, ["*"])["endpoint"]
    other = Api(client, make_world())

    refused = other.post(
        "operations/integration.deleteWebhookEndpoint", {"endpoint_id": endpoint["id"]}
    )
    assert refused.status_code == 404
    deleted = api.post(
        "operations/integration.deleteWebhookEndpoint", {"endpoint_id": endpoint["id"]}
    )
    assert deleted.json() == {"endpoint_id": endpoint["id"], "deleted": True}


def test_the_admin_adds_an_endpoint_shows_its_secret_once_and_refuses_http(client, world):
    profile = OperatorProfileFactory(tenant=world.tenant, user__username="anja")
    profile.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="mcp_core", codename__contains="webhook")
    )
    client.force_login(profile.user)
    add = reverse("admin:mcp_core_webhookendpoint_add")

    refused = client.post(
        add, {"url": "http://example.com/x", "events": '["booking.created"]', "active": "on"}
    )
    assert refused.status_code == 200
    assert "HTTPS" in refused.content.decode() or "https" in refused.content.decode()
    assert not WebhookEndpoint.objects.for_tenant(world.tenant).exists()

    added = client.post(
        add,
        {"url": "https://example.com/x", "events": '["booking.created"]', "active": "on"},
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.for_tenant(world.tenant).get()
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret in added.content.decode()
    page = client.get(reverse("admin:mcp_core_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200
    assert endpoint.secret not in page.content.decode()
