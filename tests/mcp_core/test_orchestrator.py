"""The orchestrator's own behaviour: one path, every failure an envelope, recorded."""

import dataclasses
import json
import logging
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import OperationalError

from common.errors import ServiceUnavailable
from mcp_core import orchestrator
from mcp_core.auth import Principal
from mcp_core.operations import CallContext, registry
from mcp_core.orchestrator import check_deadline, execute_named, get_metrics
from tests.factories import ApiKeyFactory, BranchFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def principal_for(role="owner", plan="professional"):
    subscription = SubscriptionFactory(plan=plan)
    api_key = ApiKeyFactory(tenant=subscription.tenant, role=role)
    return Principal(
        tenant=subscription.tenant, role=role, api_key_id=api_key.pk, key_prefix=api_key.prefix
    )


def test_success_is_shaped_by_the_output_model_and_carries_rate_headers():
    principal = principal_for()
    branch = BranchFactory(tenant=principal.tenant, name="Mitte")

    result = execute_named(
        principal, "tenant.getBranch", {"branch_id": branch.pk}, correlation_id="corr-1"
    )

    assert result.ok
    assert result.data["branch"]["name"] == "Mitte"
    assert result.correlation_id == "corr-1"
    assert result.headers()["X-RateLimit-Limit"] == "1000"
    assert result.headers()["X-RateLimit-Remaining"] == "999"


def test_a_hostile_correlation_id_is_replaced():
    result = execute_named(
        principal_for(), "tenant.getTenant", {}, correlation_id="x\nInjected: header"
    )
    assert result.correlation_id != "x\nInjected: header"
    assert len(result.correlation_id) == 32


def test_validation_errors_are_field_by_field():
    result = execute_named(
        principal_for(), "tenant.listBranches", {"page": "zero", "page_size": 1000, "colour": "red"}
    )
    assert result.error.error_type.name == "VALIDATION_FAILED"
    assert set(result.error.details) == {"page", "page_size", "colour"}
    assert result.error.details["colour"] == ["Unknown field."]


def test_arguments_must_be_an_object():
    result = execute_named(principal_for(), "tenant.getTenant", ["x"])
    assert result.error.details == {"params": ["Must be an object."]}


def test_permission_denied_names_the_permission():
    result = execute_named(principal_for(role="readonly"), "tenant.updateTenant", {"name": "X"})
    assert result.error.error_type.name == "PERMISSION_DENIED"
    assert result.error.details == {"required_permission": "manage-company", "role": "readonly"}


def test_the_101st_call_of_a_basic_tenant_is_refused():
    principal = principal_for(plan="basic")
    results = [execute_named(principal, "tenant.validateTenantAccess", {}) for _ in range(101)]
    assert [r.ok for r in results] == [True] * 100 + [False]
    refused = results[-1]
    assert refused.error.error_type.name == "RATE_LIMIT_EXCEEDED"
    assert refused.error.http_status == 429
    assert int(refused.headers()["Retry-After"]) >= 1
    assert refused.headers()["X-RateLimit-Remaining"] == "0"


def test_lapsed_subscription_falls_back_to_basic_limits():
    principal = principal_for(plan="enterprise")
    principal.tenant.subscription.status = "past_due"
    principal.tenant.subscription.save()
    result = execute_named(principal, "tenant.getTenant", {})
    assert result.headers()["X-RateLimit-Limit"] == "100"


def test_unexpected_exceptions_become_a_generic_500_without_internals(monkeypatch):
    op = registry.get("tenant.getTenant")

    def boom(ctx, args):
        raise KeyError("secret internal detail")

    monkeypatch.setitem(
        registry._operations, "tenant.getTenant", dataclasses.replace(op, handler=boom)
    )
    result = execute_named(principal_for(), "tenant.getTenant", {})

    envelope = result.error.envelope(result.correlation_id)["error"]
    assert (envelope["code"], envelope["type"], result.error.http_status) == (
        1000,
        "INTERNAL_ERROR",
        500,
    )
    assert "secret" not in json.dumps(envelope)


def test_database_errors_become_503(monkeypatch):
    op = registry.get("tenant.getTenant")

    def db_down(ctx, args):
        raise OperationalError("connection refused")

    monkeypatch.setitem(
        registry._operations, "tenant.getTenant", dataclasses.replace(op, handler=db_down)
    )
    result = execute_named(principal_for(), "tenant.getTenant", {})
    assert result.error.error_type.name == "SERVICE_UNAVAILABLE"
    assert result.error.http_status == 503


def test_time_budget_check_says_timeout(settings):
    settings.MCP_TIMEOUT = 30
    principal = principal_for()
    ctx = CallContext(
        tenant=principal.tenant,
        role="owner",
        actor="t",
        correlation_id="c",
        source="cli",
        deadline=0.0,
    )
    with pytest.raises(ServiceUnavailable, match="timeout"):
        check_deadline(ctx, "calendar sync")


def test_every_call_is_measured_and_logged(caplog):
    principal = principal_for()
    before = get_metrics()["operations"].get("tenant.getTenantSettings", {"calls": 0})["calls"]
    with caplog.at_level(logging.INFO, logger="askproai.mcp"):
        execute_named(principal, "tenant.getTenantSettings", {}, correlation_id="log-me")
        execute_named(principal, "tenant.getBranch", {"branch_id": 999999})
    stats = get_metrics()["operations"]
    assert stats["tenant.getTenantSettings"]["calls"] == before + 1
    assert stats["tenant.getBranch"]["errors"]["RESOURCE_NOT_FOUND"] >= 1
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "askproai.mcp"]
    line = next(entry for entry in lines if entry["correlation_id"] == "log-me")
    assert line["event"] == "mcp.call"
    assert line["operation"] == "tenant.getTenantSettings"
    assert line["status"] == "success"
    assert line["tenant_id"] == principal.tenant.pk


def test_metrics_endpoint_exposes_the_contract_names(client):
    execute_named(principal_for(), "tenant.getTenant", {})
    body = client.get("/metrics").content.decode()
    for name in (
        "mcp_requests_total",
        "mcp_request_duration_seconds_bucket",
        "mcp_circuit_breaker_state",
        "mcp_active_connections",
    ):
        assert name in body
    assert 'mcp_requests_total{operation="getTenant",service="tenant",status="success"}' in body


def test_health_check_and_command():
    assert orchestrator.health_check()["status"] == "ok"
    out = StringIO()
    call_command("check_health", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["checks"]["integrations"]["calcom"]["circuit"] == "closed"


def test_mcp_command_lists_calls_and_documents():
    principal = principal_for()
    out = StringIO()
    call_command("mcp", "list", "--json", stdout=out)
    names = [row["name"] for row in json.loads(out.getvalue())]
    assert names == [op.name for op in registry]

    out = StringIO()
    call_command(
        "mcp", "call", "tenant.getTenantQuota", "--tenant", str(principal.tenant.pk), stdout=out
    )
    assert json.loads(out.getvalue())["plan"] == "professional"

    out = StringIO()
    with pytest.raises(SystemExit):
        call_command(
            "mcp",
            "call",
            "tenant.getBranch",
            "--tenant",
            str(principal.tenant.pk),
            "--args",
            '{"branch_id": 999999}',
            stdout=out,
        )
    assert json.loads(out.getvalue())["error"]["type"] == "RESOURCE_NOT_FOUND"

    out = StringIO()
    call_command("mcp", "docs", stdout=out)
    docs = out.getvalue()
    for op in registry:
        assert f"### `{op.name}`" in docs


def test_each_call_is_a_trace_span():
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        pytest.skip("another tracer provider was installed earlier in this process")

    principal = principal_for()
    execute_named(principal, "tenant.getBranch", {"branch_id": 999999}, correlation_id="span-1")

    span = next(s for s in exporter.get_finished_spans() if s.name == "mcp tenant.getBranch")
    assert span.attributes["mcp.correlation_id"] == "span-1"
    assert span.attributes["mcp.tenant_id"] == principal.tenant.pk
    assert span.attributes["mcp.error_type"] == "RESOURCE_NOT_FOUND"
