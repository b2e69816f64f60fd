"""Budgets per kind of caller and load shedding through the front doors: API clients are shed
first under load (429, Retry-After, only where the flag `adaptive_load_shedding` is on for the
tenant), the admin keeps its own budget, the phone line is never shed for load."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from mcp_core import flags
from mcp_core.load import monitor
from mcp_core.management.demo import seed_demo
from mcp_core.models import FeatureFlag, FlagState
from mcp_core.ratelimit import rate_limit_usage
from mcp_core.shedding import caller_kind
from tests.factories import ApiKeyFactory, CompanyFactory, UserFactory
from tests.integrations.retell_helpers import TEST_KEY, call_object, function, post

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # Monday


def overload(times: int = 10, seconds: float = 100.0) -> None:
    """Requests that took `seconds` each, as the middleware would have measured them (far over
    the target, so the average cannot fade below it while a slow machine runs the test)."""
    for _ in range(times):
        monitor.observe(seconds)


def shedding_flag(**fields: object) -> FeatureFlag:
    tenants = fields.pop("tenants", [])
    flag = FeatureFlag.objects.create(name="adaptive_load_shedding", **fields)
    flag.tenants.set(tenants)  # type: ignore[arg-type]
    flags.flag_changed(actor="test", flag=flag, action="flag.created", changes={})
    return flag


def api_get(client, token: str):
    return client.get("/api/v2/mcp/tenant", HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/webhooks/retell", "phone"),
        ("/webhooks/retell/functions", "phone"),
        ("/admin/tenants/branch/", "admin"),
        ("/api/v2/mcp/tenant", "api"),
        ("/mcp", "api"),
        ("/webhooks/stripe", "api"),
        ("/mcp/health", None),
        ("/metrics", None),
        ("/livez", None),
    ],
)
def test_each_path_belongs_to_one_kind_of_caller(path, kind):
    assert caller_kind(path) == kind


@pytest.mark.django_db
def test_under_load_an_api_client_of_a_flagged_tenant_is_shed_with_retry_after(client):
    flagged, other = CompanyFactory(), CompanyFactory()
    shedding_flag(state=FlagState.TARGETED, tenants=[flagged])
    _, flagged_token = ApiKeyFactory.create_with_plaintext(tenant=flagged, role="owner")
    _, other_token = ApiKeyFactory.create_with_plaintext(tenant=other, role="owner")
    overload()

    shed = api_get(client, flagged_token)
    assert shed.status_code == 429
    assert shed.headers["Retry-After"] == "2"
    error = shed.json()["error"]
    assert (error["type"], error["code"]) == ("RATE_LIMIT_EXCEEDED", 1004)
    assert error["details"] == {
        "scope": "load",
        "caller": "api",
        "reason": "latency",
        "retry_after": 2,
    }
    # The flag is off for the other tenant: the old path, only its fixed budget.
    assert api_get(client, other_token).status_code == 200

    metrics = client.get("/metrics").content.decode()
    assert 'mcp_requests_shed_total{caller="api",reason="latency"}' in metrics


@pytest.mark.django_db
def test_without_load_a_flagged_tenant_is_served(client):
    tenant = CompanyFactory()
    shedding_flag(state=FlagState.ON)
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")
    assert api_get(client, token).status_code == 200


@pytest.mark.django_db
def test_the_kill_switch_stops_shedding_at_once(client):
    tenant = CompanyFactory()
    flag = shedding_flag(state=FlagState.ON)
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")
    overload()
    assert api_get(client, token).status_code == 429
    flags.flag_kill(actor="admin:anna", flag=flag, killed=True)
    assert api_get(client, token).status_code == 200


@pytest.mark.django_db
def test_each_kind_of_caller_has_its_own_budget(client, settings):
    settings.LOAD_SHED_SLOTS = {"phone": 4, "admin": 4, "api": 0}
    tenant = CompanyFactory()
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")

    refused = api_get(client, token)
    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["reason"] == "budget"

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get("/admin/").status_code == 200
    assert client.get("/mcp/health").status_code in (200, 503)  # probes are never budgeted
    assert monitor.in_flight("api") == monitor.in_flight("admin") == 0


@pytest.fixture
def demo(settings):
    settings.RETELL_API_KEY = TEST_KEY
    with time_machine.travel(NOW, tick=False):
        yield seed_demo()


@pytest.mark.django_db(transaction=True)
def test_the_phone_line_is_answered_while_api_clients_are_shed(client, demo):
    shedding_flag(state=FlagState.ON)
    overload()

    assert api_get(client, demo["api_key"]).status_code == 429
    started = call_object("call_under_load")
    answer = post(
        client,
        function("check_availability", {"service": "Herrenschnitt", "date": "morgen"}, started),
    )

    assert answer.status_code == 200
    assert "ausgelastet" not in answer.json()["result"]
    assert "error" not in answer.json().get("data", {})


@pytest.mark.django_db
def test_a_key_over_its_plans_limit_is_refused_at_once_with_the_same_envelope(client, settings):
    settings.MCP_RATE_LIMIT_PRO = 2
    tenant = CompanyFactory()
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")
    _, other_token = ApiKeyFactory.create_with_plaintext(tenant=CompanyFactory(), role="owner")
    assert [api_get(client, token).status_code for _ in range(2)] == [200, 200]
    full = api_get(client, token)  # the orchestrator refuses and counts it
    assert full.status_code == 429

    remembered = api_get(client, token)  # answered by the middleware: not counted again
    assert remembered.status_code == 429
    assert rate_limit_usage(tenant_id=tenant.pk) == 3
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert remembered.headers[name] == full.headers[name]
    assert int(remembered.headers["Retry-After"]) >= 1
    first, second = full.json()["error"], remembered.json()["error"]
    assert (second["type"], second["code"]) == ("RATE_LIMIT_EXCEEDED", 1004)
    assert {k: v for k, v in second["details"].items() if k != "retry_after"} == {
        "limit": 2,
        "window_seconds": settings.MCP_RATE_LIMIT_WINDOW,
        "scope": "tenant",
    }
    assert set(first["details"]) == set(second["details"])
    assert api_get(client, other_token).status_code == 200  # another tenant's key is served
    metrics = client.get("/metrics").content.decode()
    assert 'mcp_requests_shed_total{caller="api",reason="over_limit"}' in metrics


@pytest.mark.django_db
def test_a_per_service_refusal_is_not_remembered_for_the_key(client, settings):
    settings.MCP_SERVICE_RATE_LIMITS = {"tenant": 1}
    tenant = CompanyFactory()
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")
    assert api_get(client, token).status_code == 200
    assert api_get(client, token).status_code == 429
    assert api_get(client, token).status_code == 429
    assert rate_limit_usage(tenant_id=tenant.pk) == 3  # each went the full path
