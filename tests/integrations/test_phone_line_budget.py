"""The phone line keeps its own rate-limit budget: an API client that used up the basic plan's
100 calls of the hour does not make Retell's webhooks or custom functions answer 429 or
"Das System ist gerade ausgelastet"."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings import notifications
from mcp_core.management.demo import seed_demo
from mcp_core.ratelimit import rate_limit_usage
from routing.models import CallLog
from tenants.enums import Plan
from tenants.models import Company, Subscription
from tests.integrations.retell_helpers import TEST_KEY, call_object, event, function, post

pytestmark = pytest.mark.django_db(transaction=True)

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # Monday


@pytest.fixture
def demo(settings):
    settings.RETELL_API_KEY = TEST_KEY
    notifications.sent_messages.clear()
    with time_machine.travel(NOW, tick=False):
        seeded = seed_demo()
        Subscription.objects.filter(tenant_id=seeded["tenant_id"]).update(plan=Plan.BASIC)
        yield seeded


def test_an_exhausted_api_budget_leaves_the_phone_line_answering(client, demo):
    tenant = Company.objects.get(pk=demo["tenant_id"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {demo['api_key']}"}
    assert tenant.api_calls_per_hour == 100
    for _ in range(100):
        assert client.get("/api/v2/mcp/tenant", **auth).status_code == 200
    refused = client.get("/api/v2/mcp/tenant", **auth)
    assert refused.status_code == 429

    started = call_object("call_budget")
    webhook = post(client, event("call_started", started))
    answer = post(
        client,
        function("check_availability", {"service": "Herrenschnitt", "date": "morgen"}, started),
    )

    assert webhook.status_code == 204
    assert CallLog.objects.for_tenant(tenant).filter(call_id="call_budget").count() == 1
    assert answer.status_code == 200
    assert "ausgelastet" not in answer.json()["result"]
    assert "error" not in answer.json().get("data", {})
    # The API's budget is still spent: the phone line counted against its own.
    assert rate_limit_usage(tenant_id=tenant.pk) == 101
    assert client.get("/api/v2/mcp/tenant", **auth).status_code == 429


def test_the_phone_line_has_a_budget_of_its_own(client, demo, settings):
    settings.MCP_RATE_LIMIT_PHONE = 1
    started = call_object("call_small_budget")

    first = post(client, event("call_started", started))
    second = post(
        client,
        function("check_availability", {"service": "Herrenschnitt", "date": "morgen"}, started),
    )

    assert first.status_code == 204
    assert second.json()["data"]["error"]["type"] == "rate_limit_exceeded"
    assert "ausgelastet" in second.json()["result"]
    assert rate_limit_usage(tenant_id=demo["tenant_id"]) == 0
