"""`/metrics` is served without authentication: invented service and operation names sent to the
front doors are counted as `unknown`, never added as series of their own."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import ApiKeyFactory, CompanyFactory

pytestmark = pytest.mark.django_db


def _series(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body = client.get("/metrics").content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        if family.name.startswith("mcp_request")
        for sample in family.samples
    }


def _execute(client, token: str, service: str, operation: str):
    return client.post(
        "/api/v2/mcp/execute",
        json.dumps({"service": service, "operation": operation, "params": {}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_twenty_invented_names_add_no_series(client):
    _, token = ApiKeyFactory.create_with_plaintext(tenant=CompanyFactory(), role="owner")
    assert _execute(client, token, "warm", "up").status_code == 404
    before = _series(client)
    unknown = (
        "mcp_requests_total",
        (("operation", "unknown"), ("service", "unknown"), ("status", "RESOURCE_NOT_FOUND")),
    )

    for n in range(20):
        assert _execute(client, token, f"svc{n}", f"op{n}x").status_code == 404
    after = _series(client)

    assert set(after) == set(before)
    assert after[unknown] == before[unknown] + 20
    assert not any("svc" in str(labels) for _, labels in after)


def test_a_registered_service_with_an_invented_operation_keeps_only_the_service(client):
    _, token = ApiKeyFactory.create_with_plaintext(tenant=CompanyFactory(), role="owner")

    assert _execute(client, token, "tenant", "inventedOperation").status_code == 404
    series = _series(client)

    key = (
        "mcp_requests_total",
        (("operation", "unknown"), ("service", "tenant"), ("status", "RESOURCE_NOT_FOUND")),
    )
    assert series[key] >= 1
    assert not any("inventedOperation" in str(labels) for _, labels in series)
