"""The REST front door: envelope, status codes, headers, tenant isolation, OpenAPI."""

import json

import pytest

from mcp_core.operations import registry
from tests.factories import ApiKeyFactory, BranchFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    api_key, token = ApiKeyFactory.create_with_plaintext(role="owner")
    return api_key, {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_execute_runs_any_operation_with_headers(client, owner):
    api_key, auth = owner
    response = client.post(
        "/api/v2/mcp/execute",
        {"service": "tenant", "operation": "validateTenantAccess"},
        content_type="application/json",
        HTTP_X_CORRELATION_ID="rest-1",
        **auth,
    )
    assert response.status_code == 200
    assert response.json()["tenant_id"] == api_key.tenant_id
    assert response.headers["X-Correlation-ID"] == "rest-1"
    assert response.headers["X-RateLimit-Limit"] == "1000"
    assert response.headers["X-RateLimit-Remaining"] == "999"
    assert int(response.headers["X-RateLimit-Reset"]) > 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"operation": "getTenant"}, "service"),
        ({"service": "tenant", "operation": "getTenant", "params": [1]}, "params"),
        ([1], "body"),
    ],
)
def test_execute_refuses_malformed_requests(client, owner, body, field):
    response = client.post(
        "/api/v2/mcp/execute", json.dumps(body), content_type="application/json", **owner[1]
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("VALIDATION_FAILED", 1001)
    assert field in error["details"]


def test_malformed_json_body_is_an_envelope_not_a_500(client, owner):
    response = client.post(
        "/api/v2/mcp/execute", "{oops", content_type="application/json", **owner[1]
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "VALIDATION_FAILED"


def test_unknown_operation_is_404(client, owner):
    response = client.post(
        "/api/v2/mcp/execute",
        {"service": "tenant", "operation": "nope"},
        content_type="application/json",
        **owner[1],
    )
    assert response.status_code == 404
    assert response.json()["error"]["details"] == {"operation": "tenant.nope"}


def test_missing_and_revoked_keys_are_401(client, owner):
    response = client.get("/api/v2/mcp/tenant")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["type"] == "AUTHENTICATION_FAILED"
    api_key, auth = owner
    api_key.revoked_at = "2026-01-01T00:00:00Z"
    api_key.save()
    assert client.get("/api/v2/mcp/tenant", **auth).status_code == 401


def test_tenant_routes(client, owner):
    api_key, auth = owner
    assert client.get("/api/v2/mcp/tenant", **auth).json()["tenant"]["id"] == api_key.tenant_id
    created = client.post(
        "/api/v2/mcp/tenant/branches",
        {"name": "Köln Süd", "city": "Köln"},
        content_type="application/json",
        **auth,
    )
    assert created.status_code == 201, created.content
    branch_id = created.json()["branch"]["id"]
    got = client.get(f"/api/v2/mcp/tenant/branches/{branch_id}", **auth)
    assert got.json()["branch"]["name"] == "Köln Süd"
    updated = client.put(
        f"/api/v2/mcp/tenant/branches/{branch_id}",
        {"city": "Cologne"},
        content_type="application/json",
        **auth,
    )
    assert updated.status_code == 200
    assert updated.json()["branch"]["city"] == "Cologne"
    listed = client.get("/api/v2/mcp/tenant/branches?city=cologne", **auth).json()
    assert [b["id"] for b in listed["branches"]] == [branch_id]


def test_tenant_a_never_reads_or_changes_tenant_b(client, owner):
    _, auth = owner
    foreign = BranchFactory(name="Fremd")
    assert client.get(f"/api/v2/mcp/tenant/branches/{foreign.pk}", **auth).status_code == 404
    response = client.put(
        f"/api/v2/mcp/tenant/branches/{foreign.pk}",
        {"name": "Gekapert"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.name == "Fremd"
    listed = client.get("/api/v2/mcp/tenant/branches", **auth).json()
    assert foreign.pk not in [b["id"] for b in listed["branches"]]


def test_a_tenant_in_the_body_is_refused(client, owner):
    _, auth = owner
    other = BranchFactory()
    response = client.put(
        "/api/v2/mcp/tenant",
        {"tenant_id": other.tenant_id, "name": "X"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 400
    assert "tenant_id" in response.json()["error"]["details"]
    other.tenant.refresh_from_db()
    assert other.tenant.name != "X"


def test_readonly_role_is_403_and_changes_nothing(client):
    api_key, token = ApiKeyFactory.create_with_plaintext(role="readonly")
    response = client.put(
        "/api/v2/mcp/tenant",
        {"name": "Neu"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "PERMISSION_DENIED"
    api_key.tenant.refresh_from_db()
    assert api_key.tenant.name != "Neu"


def test_wrong_method_and_unknown_path_are_envelopes(client, owner):
    response = client.delete("/api/v2/mcp/tenant", **owner[1])
    assert response.status_code == 405
    assert "error" in response.json()
    response = client.get("/api/v2/mcp/does-not-exist", **owner[1])
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "RESOURCE_NOT_FOUND"


def test_every_operation_has_a_generic_route(client, owner):
    response = client.post(
        "/api/v2/mcp/operations/tenant.getTenantQuota",
        {},
        content_type="application/json",
        **owner[1],
    )
    assert response.status_code == 200
    assert response.json()["plan"] == "professional"


def test_openapi_schema_is_generated_from_the_operations(client):
    schema = client.get("/api/schema/?format=json").json()
    assert "/api/v2/mcp/tenant/branches" in schema["paths"]
    for op in registry:
        path = schema["paths"][f"/api/v2/mcp/operations/{op.name}"]["post"]
        assert path["description"] == op.description
    assert client.get("/api/docs/").status_code == 200


def test_rest_health_requires_a_key(client, owner):
    assert client.get("/api/v2/mcp/health").status_code == 401
    body = client.get("/api/v2/mcp/health", **owner[1]).json()
    assert body["status"] == "ok"
    integrations = client.get("/api/v2/mcp/integrations/health", **owner[1]).json()
    assert integrations["integrations"]["stripe"]["status"] == "not_configured"


def test_database_outage_answers_503_not_500(client, owner, monkeypatch):
    from django.db import OperationalError

    from tenants import authentication as auth

    def unreachable(_):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(auth, "authenticate_api_key", unreachable)
    for response in (
        client.get("/api/v2/mcp/tenant", **owner[1]),
        client.post("/mcp", "{}", content_type="application/json", **owner[1]),
    ):
        assert response.status_code == 503
        assert response.json()["error"]["type"] == "SERVICE_UNAVAILABLE"


@pytest.mark.redis
def test_redis_outage_degrades_but_answers(client, owner):
    from django.test import override_settings

    unreachable = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    with override_settings(CACHES=unreachable):
        first = client.get("/api/v2/mcp/tenant", **owner[1])
        second = client.get("/api/v2/mcp/tenant", **owner[1])
        health = client.get("/mcp/health")
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["X-RateLimit-Remaining"] == "999"
    assert second.headers["X-RateLimit-Remaining"] == "998"  # counted in-process meanwhile
    assert (health.status_code, health.json()["status"]) == (200, "degraded")
